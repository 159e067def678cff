"""What the DxMI training entry points share: their flags, checks of the algorithm's config
fields, and the ``algorithm.DxMIConfig`` those fields describe."""

from typing import NamedTuple

from absl import flags
import ml_collections

from common import cli
from dxmi import algorithm


class Flags(NamedTuple):
  config: flags.FlagHolder
  file_path: flags.FlagHolder
  expe_name: flags.FlagHolder


def define_flags(config_name: str, default_expe_name: str) -> Flags:
  """``--config`` (default ``configs/<config_name>.py``), ``--file_path``, ``--expe_name``."""
  return Flags(
      cli.define_config(cli.config_file(config_name)),
      flags.DEFINE_string("file_path", "runs", "Parent folder of the outputs."),
      flags.DEFINE_string("expe_name", default_expe_name, "Output subfolder."))


def start(entry_flags: Flags, validate) -> tuple[ml_collections.ConfigDict, str]:
  """Validates the config (nothing is created on a bad one), then makes the output folder
  with config.json; returns (config, folder)."""
  config = entry_flags.config.value
  validate(config)
  folder = cli.make_output_dir(entry_flags.file_path.value, entry_flags.expe_name.value)
  cli.write_config(folder, config.to_dict())
  return config, folder


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
  cli.check_batch_size(config.batch_size, "config.batch_size")


def algorithm_config(config: ml_collections.ConfigDict,
                     running_cost_in_value: bool) -> algorithm.DxMIConfig:
  return algorithm.DxMIConfig(
      tau_entropy=config.tau_entropy, tau_velocity=config.tau_velocity, gamma=config.gamma,
      time_cost=config.time_cost, time_cost_value=config.time_cost_value,
      running_cost_in_value=running_cost_in_value, value_lr=config.value_lr,
      sampler_lr=config.sampler_lr, log_std_lr_multiplier=config.log_std_lr_multiplier,
      sampler_grad_clip=config.sampler_grad_clip, policy_batch=config.batch_size,
      buffer_capacity=config.buffer_capacity)
