"""DxMI: a few-step diffusion sampler fine-tuned by maximum-entropy IRL (Yoon et al. 2024).

Public API (``common.types``'s contract):

    policy = dxmi.policy.make_policy(eps_apply, dxmi.fastdpm.var_schedule(5), dim)
    algorithm = dxmi.dxmi(policy=policy, value_fn=value_fn,
                          sampler_optimizer=dxmi.sampler_optimizer(1e-7),
                          value_optimizer=optax.adam(1e-5), tau_entropy=0.1, ...)
    state = algorithm.init(key, dxmi.policy.init_sampler_params(policy, eps_params, std),
                           value_params)                              # DxMIState
    state, info = jax.jit(algorithm.step)(key, state, data)           # DxMIInfo
    samples = algorithm.sample(key, state.sampler_params, n)          # (n, dim)

- ``dxmi.algorithm``: the iteration (``dxmi``, ``DxMIState``, ``DxMIInfo``, ``sampler_optimizer``,
  ``time_cost``);
- ``dxmi.policy``: the S-step Gaussian sampler (``Policy``, ``make_policy``,
  ``init_sampler_params``, ``step_std``, ``sample_trajectory``, ``final_states``,
  ``value_guidance``, ``ancestral_steps``);
- ``dxmi.fastdpm``: FastDPM reductions of a 1000-step DDPM;
- ``dxmi.selection``: the best sampler of a run by a held-out score;
- entry points: ``python -m dxmi.train`` (digits), ``dxmi.toy2d``, ``dxmi.evaluate``,
  ``dxmi.pretrain``.
"""

from dxmi.algorithm import dxmi
from dxmi.algorithm import DxMIInfo
from dxmi.algorithm import DxMIState
from dxmi.algorithm import sampler_optimizer

__all__ = ["dxmi", "DxMIInfo", "DxMIState", "sampler_optimizer"]
