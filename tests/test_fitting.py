"""``common.training.fitting.fit``: the averaged iterate it returns with ``ema_decay``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from common.training import fitting

_DATA = (jnp.arange(8.0)[:, None],)


def _fit(ema_decay, num_steps=5):
  loss = lambda p, key, batch: jnp.mean((p["w"] - batch[0]) ** 2)
  return fitting.fit(jax.random.key(0), {"w": jnp.zeros(())}, loss, optax.sgd(0.1), _DATA,
                     batch_size=4, num_steps=num_steps, label=None, ema_decay=ema_decay)


def test_zero_decay_is_the_last_iterate_and_the_average_lags_it():
  last, losses = _fit(None)
  np.testing.assert_array_equal(_fit(0.0)[0]["w"], last["w"])
  assert losses.shape == (5,)
  # SGD from 0 towards the data mean 3.5 moves w up monotonically, so any average lags behind;
  # with decay d and n steps the initial value keeps weight dⁿ.
  averaged, _ = _fit(0.5)
  assert 0.0 < float(averaged["w"]) < float(last["w"])
  one_step, _ = _fit(None, num_steps=1)
  nearly_frozen, _ = _fit(0.999, num_steps=1)
  assert float(nearly_frozen["w"]) == pytest.approx(0.001 * float(one_step["w"]), rel=1e-5)


def test_bad_decay():
  with pytest.raises(ValueError, match="ema_decay"):
    _fit(1.0)
