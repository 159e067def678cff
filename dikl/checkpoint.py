"""Saved generators of ``dikl.train`` (flax msgpack, written atomically).

A run folder holds ``config.json`` (the resolved configuration and flags), ``checkpoints/`` (the
full training state, to ``--resume``: ``common.training.checkpoint``) and, at the end,
``generator.msgpack`` (the generator's parameters alone: their moving average when
``generator_ema_decay`` > 0, the last iterate otherwise). ``load_generator`` rebuilds the
generator from ``config.json`` and ``generator.msgpack``, which is what ``dikl.eval
--model_path`` does.
"""

import json
import os
from typing import Any

import jax
import jax.numpy as jnp

from common import types
from common.infra import io
from common.targets import benchmarks as targets_lib
from dikl import presets

GENERATOR = "generator.msgpack"


def save_generator(folder: str, params: Any) -> str:
  path = os.path.join(folder, GENERATOR)
  io.save_params(path, params)
  return path


def load_generator(path: str) -> tuple[targets_lib.Target, types.SampleFn, Any]:
  """``(target, sample, generator params)`` of a saved generator: ``sample(key, params, n)``.

  ``path`` is a ``generator.msgpack``; the ``config.json`` beside it says how to rebuild the
  network. Raises ``OSError``/``ValueError``/``KeyError`` on missing or inconsistent files.
  """
  with open(os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")) as f:
    config = json.load(f)
  target = targets_lib.get_target(config["target"])
  nets = presets.make_networks(config, target)
  # Only the structure is used.
  template = nets.generator.init(jax.random.key(0), jnp.zeros((1, nets.latent_dim)))
  return target, presets.make_sample(config, target), io.load_params(path, template)
