"""Bias of DiKL's noisy-score estimate on MW-32, against the exact noisy score.

    python benchmarks/dikl_mw_posterior_bias.py [--num=2000] [--config.<field>=...]
        [--config=configs/dikl_mw.py:paper]

MW-32 factorises into 16 independent double wells and 16 standard normals, so its noisy score
∇ log p_t is exact per coordinate: N(0, 1) stays N(0, 1) under the VP kernel, and each double
well's posterior mean E[x | x_t] is a 1-D quadrature
(``common.targets.benchmarks.mw32_noisy_score``). For x_t = α_t x + σ_t ε with exact x, the
script prints, per level, the error of ``dikl.presets.make_target_score`` (the preset's
importance sampling and MALA, one draw per x_t) on the double-well coordinates, binned by
x_t/α_t: a positive mean error pushes the generator towards the deep (positive) well.
Default configuration: the quick preset (``configs/dikl_mw.py``).
"""

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from common.infra import cli
from common.targets import benchmarks as targets
from configs import dikl_mw
from dikl import dikl
from dikl import presets

_CONFIG = cli.define_config(dikl_mw.__file__ + ":quick")
_NUM = flags.DEFINE_integer("num", 2000, "Exact samples per level.")
_EDGES = np.array([-9.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 9.0])


def main(argv):
  del argv
  cli.check(_NUM.value > 0, "num", "must be positive")
  config = _CONFIG.value
  target = targets.get_target("mw")
  levels = dikl.vp_levels(config.beta_start, config.beta_end, config.num_levels)
  estimate = jax.jit(presets.make_target_score(config, target))
  exact = jax.jit(jax.vmap(targets.mw32_noisy_score))
  n = _NUM.value
  x = np.asarray(target.sample(jax.random.key(0), n))
  for level in (0, 5, 10, 15, 20, 25, 28):
    alpha, sigma = float(levels.alpha[level]), float(levels.sigma[level])
    noise = np.asarray(jax.random.normal(jax.random.key(level + 1), x.shape))
    x_t = alpha * x + sigma * noise
    batch = (jnp.asarray(x_t, jnp.float32), jnp.full((n,), alpha, jnp.float32),
             jnp.full((n,), sigma, jnp.float32))
    score, acceptance = estimate(jax.random.key(100 + level), *batch)
    wells = x_t[:, 0::2].ravel()
    error = (np.asarray(score) - np.asarray(exact(*batch)))[:, 0::2].ravel()
    bins = np.digitize(wells / alpha, _EDGES)
    cells = " ".join(
        f"[{_EDGES[i - 1]:+.1f},{_EDGES[i]:+.1f}) {error[bins == i].mean():+.2f}"
        for i in range(1, len(_EDGES)) if np.any(bins == i))
    print(f"level {level:2d} α {alpha:.3f} σ {sigma:.3f} acceptance {float(acceptance.mean()):.2f}"
          f" | mean error {error.mean():+.3f}, rms {np.sqrt(np.mean(error**2)):.2f}"
          f" | by x_t/α: {cells}", flush=True)


if __name__ == "__main__":
  cli.run(main)
