"""The digits DDPM and classifier, trained once and cached in a model folder.

``train_or_load_ddpm`` / ``train_or_load_classifier`` look for the weights in ``model_dir``
(flax serialisation, one file per setting, e.g. ``ddpm_steps6000_seed0_ema0.999.msgpack``) and
train and save them only when absent, so ``reward_guidance`` and ``dxmi`` share one pretrained model.
While training, checkpoints go to ``<model_dir>/<file name without .msgpack>/checkpoints``
(``common.training.checkpoint``): an interrupted training resumes from there on the next call (the
folder's name holds every setting), and the folder is removed once the weights are saved.

``python -m common.pretrain_digits`` trains or loads both and evaluates the DDPM.
"""

import os
import shutil
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from common.diffusion import ddpm
from common.digits import data as digits
from common.digits import metrics as digit_metrics
from common.infra import io
from common.networks import classifier
from common.networks import residual_mlp
from common.training import checkpoint
from common.training import fitting

DDPM_STEPS = 6000
DDPM_BATCH = 128
DDPM_LEARNING_RATE = 1e-3
# Samples come from an exponential moving average of the weights: the last Adam iterate at 1e-3
# scores clfFD 27.9 after 6000 steps, its average 3.9 (docs/RESULTS.md, "Digits core").
DDPM_EMA_DECAY = 0.999
CLASSIFIER_STEPS = 2000
CLASSIFIER_BATCH = 128
CLASSIFIER_LEARNING_RATE = 1e-3
DEFAULT_MODEL_DIR = os.path.join("runs", "digits_models")


def ddpm_network() -> residual_mlp.ResidualMLP:
  """164 → 512, 5 pre-LN residual GELU blocks, LayerNorm, → 64."""
  return residual_mlp.ResidualMLP(digits.DIM)


def ddpm_schedule() -> ddpm.DiscreteSchedule:
  """β linear 1e-4 → 0.02 over 1000 steps."""
  return ddpm.linear_schedule(1000, 1e-4, 0.02)


def eps_fn(params: Any) -> ddpm.EpsFn:
  """ε̂(x, t) of the digits DDPM with ``params``, for the samplers of ``common.diffusion.ddpm``."""
  network = ddpm_network()
  return lambda x, t: network.apply(params, x, jnp.asarray(t, jnp.float32))


def _train_or_load(path: str, template: Any, train: Callable[[Any], tuple[Any, dict]], what: str,
                   log: Callable[[str], None]) -> Any:
  """``train(checkpoint manager) -> (params, info)`` runs only when ``path`` is absent."""
  if os.path.isfile(path):
    log(f"loaded {what} from {path}")
    return io.load_params(path, template)
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  start = time.perf_counter()
  run_folder = os.path.splitext(path)[0]
  manager = checkpoint.manager(run_folder, resume=True)
  params, info = train(manager)
  manager.close()
  info = dict(info, train_wall_time_s=time.perf_counter() - start)
  io.save_params(path, params)
  shutil.rmtree(run_folder)
  io.save_json(os.path.splitext(path)[0] + ".json", info)
  log(f"trained {what} in {info['train_wall_time_s']:.0f} s; saved to {path}")
  return params


def train_or_load_ddpm(model_dir: str = DEFAULT_MODEL_DIR, num_steps: int = DDPM_STEPS,
                       seed: int = 0, log: Callable[[str], None] = print) -> Any:
  """The digits DDPM (ε-prediction, Adam 1e-3, batch 128, weights averaged with decay
  ``DDPM_EMA_DECAY``), from the cache or trained now."""
  key_init, key_fit = jax.random.split(jax.random.key(seed))
  template = ddpm_network().init(key_init, jnp.zeros((1, digits.DIM)), jnp.zeros(()))
  schedule = ddpm_schedule()

  def train(manager):
    loss = lambda p, k, batch: ddpm.eps_loss(ddpm_network().apply, p, schedule, k, batch[0])
    params, losses = fitting.fit(key_fit, template, loss, optax.adam(DDPM_LEARNING_RATE),
                                 (digits.load().x_train,), batch_size=DDPM_BATCH,
                                 num_steps=num_steps, chunk_size=500, label="ddpm step",
                                 ema_decay=DDPM_EMA_DECAY, manager=manager)
    return params, {"num_steps": num_steps, "seed": seed, "ema_decay": DDPM_EMA_DECAY,
                    "final_loss_mean_last_500": float(losses[-500:].mean())}

  name = f"ddpm_steps{num_steps}_seed{seed}_ema{DDPM_EMA_DECAY}.msgpack"
  path = os.path.join(model_dir, name)
  return _train_or_load(path, template, train, "the digits DDPM", log)


def train_or_load_classifier(model_dir: str = DEFAULT_MODEL_DIR, seed: int = 0,
                             log: Callable[[str], None] = print) -> Any:
  """The metric classifier (cross-entropy, Adam 1e-3, batch 128, 2000 steps)."""
  key_init, key_fit = jax.random.split(jax.random.key(seed))
  template = classifier.Classifier().init(key_init, jnp.zeros((1, digits.DIM)))

  def train(manager):
    data = digits.load()
    params, losses = fitting.fit(
        key_fit, template, digit_metrics.classifier_loss, optax.adam(CLASSIFIER_LEARNING_RATE),
        (data.x_train, data.y_train), batch_size=CLASSIFIER_BATCH, num_steps=CLASSIFIER_STEPS,
        label=None, manager=manager)
    logits = classifier.Classifier().apply(params, jnp.asarray(data.x_test))
    accuracy = float(jnp.mean(jnp.argmax(logits, axis=1) == data.y_test))
    return params, {"seed": seed, "test_accuracy": accuracy,
                    "final_loss": float(losses[-100:].mean())}

  path = os.path.join(model_dir, f"classifier_seed{seed}.msgpack")
  return _train_or_load(path, template, train, "the digit classifier", log)
