"""Checkpoints and saved generators of ``dikl.train`` (flax msgpack, written atomically).

A run folder holds ``config.json`` (the resolved configuration and flags), ``checkpoint.msgpack``
(the full training state and the histories so far, to ``--resume``) and, at the end,
``generator.msgpack`` (the generator's parameters alone). ``load_generator`` rebuilds the
generator from the latter two files, which is what ``dikl.eval --model_path`` does.
"""

import json
import os
from typing import Any, Mapping

from flax import serialization
import jax
import ml_collections
import numpy as np

from common import io
from common import targets as targets_lib
from dikl import dikl

CHECKPOINT = "checkpoint.msgpack"
GENERATOR = "generator.msgpack"


def _write_bytes(path: str, data: bytes) -> None:
  with io.atomic_path(path) as tmp, open(tmp, "wb") as f:
    f.write(data)


def save_checkpoint(folder: str, state: dikl.TrainState, histories: Mapping[str, np.ndarray]
                    ) -> str:
  """Writes the training state and the histories of the iterations done so far."""
  path = os.path.join(folder, CHECKPOINT)
  payload = {"state": serialization.to_state_dict(state),
             "histories": {k: np.asarray(v) for k, v in histories.items()}}
  _write_bytes(path, serialization.msgpack_serialize(payload))
  return path


def load_checkpoint(folder: str, template: dikl.TrainState
                    ) -> tuple[dikl.TrainState, dict[str, np.ndarray]]:
  """The state (with ``template``'s structure) and histories written by ``save_checkpoint``."""
  with open(os.path.join(folder, CHECKPOINT), "rb") as f:
    payload = serialization.msgpack_restore(f.read())
  state = serialization.from_state_dict(template, payload["state"])
  return state, {k: np.asarray(v) for k, v in payload["histories"].items()}


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
