"""DiKL's paper presets hold the published configurations (jiajunhe98/DiKL, commit 11876a5).

The table below is ``DiKL/configs/<target>.yaml`` in our fields (docs/dikl.md, "Paper presets
against the published configurations"): a drift of a preset from it fails here. The settings our
code has no equivalent for (fixed MALA steps, HMC moves, early stopping) are not pinned.
"""

import pytest

from common.networks import egnn
from common.networks import generator as generator_lib
from common.targets import benchmarks as targets
from configs import dikl_dw
from configs import dikl_lj
from configs import dikl_mog
from configs import dikl_mw
from dikl import presets

# The published keys: Tmax, lvm_lr, score_lr, grad_norm_clip, and the DSM loss unweighted.
_COMMON = {"num_levels": 30, "score_lr": 1e-4, "grad_clip": 10.0, "score_weight": "one",
           "generator_ema_decay": 0.0, "generator_decay_iterations": 0,
           "num_posterior_samples": 1, "annealing_schedule": "linear"}
# layer_num and score_layer_num count the MLPs' output layer: `layer_num: 5` is 4 hidden layers.
_MLP = {"generator_hidden": 400, "generator_layers": 4, "score_hidden": 400, "score_layers": 4,
        "generator_lr": 1e-3, "score_steps": 50, "batch_size": 1024, "score_batch_size": 1024,
        "num_iterations": 100_000, "weight": "inv_alpha", "num_importance": 10, "mala_steps": 5,
        "annealing_steps": 15, "adapt_step_size": False, "latent_std": 1.0,
        "output_scale": 1.0, "data_std": 1.0}
# EGNN layer counts are message-passing layers, as ours.
_EGNN = {"generator_lr": 5e-4, "score_steps": 100, "weight": "one", "adapt_step_size": True,
         "beta_start": 1e-6, "beta_end": 0.05, "latent_std": 1.0, "data_std": 1.0}
PUBLISHED = {
    "mog": {**_MLP, "beta_start": 1e-4, "beta_end": 0.7, "latent_dim": 2},
    "mw": {**_MLP, "beta_start": 1e-4, "beta_end": 0.15, "latent_dim": 32},
    "dw": {**_EGNN, "generator_hidden": 144, "generator_layers": 8, "score_hidden": 144,
           "score_layers": 4, "num_iterations": 2000, "batch_size": 1024,
           "score_batch_size": 1024, "num_importance": 20, "mala_steps": 50,
           "annealing_steps": 10},
    "lj": {**_EGNN, "generator_hidden": 192, "generator_layers": 8, "score_hidden": 192,
           "score_layers": 8, "num_iterations": 3000, "batch_size": 256, "score_batch_size": 256,
           "num_importance": 500, "mala_steps": 1000, "annealing_steps": 0, "soft_core": True,
           "cubic_below": 0.75},
}
MODULES = [dikl_mog, dikl_mw, dikl_dw, dikl_lj]


@pytest.mark.parametrize("module", MODULES)
def test_paper_preset_is_the_published_configuration(module):
  paper = module.get_config("paper")
  assert paper.preset == "paper" and module.get_config().preset == "paper"
  expected = {**_COMMON, **PUBLISHED[paper.target]}
  actual = {name: paper[name] for name in expected}
  assert actual == expected
  # Types too: 1 would pass for 1.0 above, but a float layer count would not build a network.
  assert {name: type(value) for name, value in actual.items()} == {
      name: type(value) for name, value in expected.items()}


@pytest.mark.parametrize("module", MODULES)
def test_quick_preset_is_smaller_on_the_same_kernel(module):
  paper, quick = module.get_config("paper"), module.get_config("quick")
  assert quick.num_iterations * quick.score_steps < paper.num_iterations * paper.score_steps
  assert (paper.beta_start, paper.beta_end) == (quick.beta_start, quick.beta_end)


@pytest.mark.parametrize("name", ["mog", "mw"])
def test_paper_mlps_have_four_hidden_layers_and_the_targets_latent(name):
  config = {"mog": dikl_mog, "mw": dikl_mw}[name].get_config("paper")
  target = targets.get_target(name)
  nets = presets.make_networks(config, target)
  assert isinstance(nets.generator, generator_lib.MLPGenerator)
  assert nets.generator.hidden_sizes == (400,) * 4 and nets.generator.output_scale == 1.0
  assert nets.score_network.hidden_sizes == (400,) * 4
  assert nets.latent_dim == target.dim


@pytest.mark.parametrize("module, generator_layers, score_layers",
                         [(dikl_dw, 8, 4), (dikl_lj, 8, 8)])
def test_paper_egnns_have_the_published_depths(module, generator_layers, score_layers):
  config = module.get_config("paper")
  nets = presets.make_networks(config, targets.get_target(config.target))
  assert isinstance(nets.generator.module, egnn.EGNN)
  assert nets.generator.module.num_layers == generator_layers
  assert nets.score_network.module.num_layers == score_layers


def test_paper_posterior_cost_counts_the_annealed_importance_sampling():
  # n·(1 + 3K) + mala_steps + 2 energies per noisy point (``presets.posterior_energy_evaluations``).
  costs = {module.get_config("paper").target:
           presets.posterior_energy_evaluations(module.get_config("paper"))
           for module in MODULES}
  assert costs == {"mog": 10 * 46 + 7, "mw": 10 * 46 + 7, "dw": 20 * 31 + 52, "lj": 500 + 1002}
