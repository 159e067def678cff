"""What the DxMI training entry points share: checks of the algorithm's configuration fields,
their translation into ``dxmi.algorithm.dxmi``'s keyword arguments, and the output folder."""

from typing import Callable

import ml_collections
import numpy as np
import optax

from common import types
from common.infra import cli
from common.training import checkpoint
from dxmi import algorithm
from dxmi import policy as policy_lib

# The Info fields each progress line shows.
PROGRESS_FIELDS = ("energy_data", "energy_sample", "td_loss")


def start(config: ml_collections.ConfigDict, run_flags: cli.RunFlags,
          validate: Callable[[ml_collections.ConfigDict], None]) -> str:
  """Validates the config (nothing is created on a bad one), then makes (and locks) the output
  folder with config.json; returns the folder."""
  validate(config)
  folder = cli.make_output_dir(run_flags.file_path.value, run_flags.expe_name.value)
  cli.write_config(folder, config.to_dict())
  return folder


def check_algorithm_fields(config: ml_collections.ConfigDict) -> None:
  """Steps, batch, learning rates, costs and buffer; one-line errors naming the field."""
  cli.check_positive(config, ("num_steps", "iterations", "batch_size", "chunk_size",
                              "buffer_capacity", "value_lr", "sampler_lr", "log_std_lr_multiplier",
                              "sampler_grad_clip", "value_hidden"))
  cli.check(config.num_steps >= 2, "config.num_steps", "must be at least 2")
  cli.check_non_negative(config, ("tau_entropy", "tau_velocity", "gamma", "time_cost_value"))
  cli.check(config.spacing in ("linear", "quadratic"), "config.spacing",
            "must be 'linear' or 'quadratic'")
  cli.check(config.time_cost in ("sigmoid", "linear", "none"), "config.time_cost",
            "must be 'sigmoid', 'linear' or 'none'")
  cli.check(config.buffer_capacity >= config.batch_size * config.num_steps,
            "config.buffer_capacity", "must hold one batch of transitions")
  # The data batch and the policy's minibatch are split over the devices.
  cli.check_batch_size(config.batch_size, "config.batch_size")


def make_algorithm(config: ml_collections.ConfigDict, policy: policy_lib.Policy,
                   value_fn: policy_lib.ValueFn, running_cost_in_value: bool) -> types.Sampler:
  """``dxmi.algorithm.dxmi`` with the configuration's hyperparameters and optimisers."""
  return algorithm.dxmi(
      policy=policy, value_fn=value_fn,
      sampler_optimizer=algorithm.sampler_optimizer(
          config.sampler_lr, config.log_std_lr_multiplier, config.sampler_grad_clip),
      value_optimizer=optax.adam(config.value_lr), tau_entropy=config.tau_entropy,
      tau_velocity=config.tau_velocity, gamma=config.gamma, time_cost=config.time_cost,
      time_cost_value=config.time_cost_value, running_cost_in_value=running_cost_in_value,
      policy_batch=config.batch_size, buffer_capacity=config.buffer_capacity)


def infos(histories: checkpoint.History) -> algorithm.DxMIInfo:
  """The per-iteration ``DxMIInfo`` fields of a training's histories, as one ``DxMIInfo``."""
  return algorithm.DxMIInfo(*(np.asarray(histories[name]) for name in algorithm.DxMIInfo._fields))
