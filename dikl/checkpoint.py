"""Saved generators of ``dikl.train`` (flax msgpack, written atomically).

A run folder holds ``config.json`` (the resolved configuration and flags), ``checkpoints/`` (the
full training state, to ``--resume``: ``common.checkpoint``) and, at the end,
``generator.msgpack`` (the generator's parameters alone: their moving average when
``generator_ema_decay`` > 0, the last iterate otherwise). ``load_generator`` rebuilds the
generator from ``config.json`` and ``generator.msgpack``, which is what ``dikl.eval
--model_path`` does.
"""

import json
import os
from typing import Any

import jax
import ml_collections

from common import io
from common import targets as targets_lib
from dikl import dikl

GENERATOR = "generator.msgpack"


def save_generator(folder: str, params: Any) -> str:
  path = os.path.join(folder, GENERATOR)
  io.save_params(path, params)
  return path


def load_generator(path: str) -> tuple[ml_collections.ConfigDict, targets_lib.Target,
                                       dikl.Networks, Any]:
  """(config, target, networks, generator params) of a saved generator.

  ``path`` is a ``generator.msgpack``; the ``config.json`` beside it says how to rebuild the
  network. Raises ``OSError``/``ValueError``/``KeyError`` on missing or inconsistent files.
  """
  with open(os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")) as f:
    config = ml_collections.ConfigDict(json.load(f))
  target = targets_lib.get_target(config.target)
  levels = dikl.vp_levels(config.beta_start, config.beta_end, config.num_levels)
  nets = dikl.make_networks(config, target, levels)
  template, _ = nets.init(jax.random.key(0))  # only the structure is used
  return config, target, nets, io.load_params(path, template)
