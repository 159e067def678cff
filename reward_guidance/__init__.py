"""Reward-directed conditional diffusion (Yuan et al. 2023).

Public API (the ``common.types`` contract):

* ``predictor.reward_predictor(*, network, optimizer, schedule, timesteps)`` ->
  ``Algorithm(init, step)``: the reward predictor μ_θ trained on noised images, run by
  ``common.training.driver`` with ``common.training.fitting.row_sampler`` minibatches;
  ``PredictorState``, ``PredictorInfo``; the network ``ResConvNet``.
* ``guidance.guided_ddim(*, eps_fn, predictor_apply, schedule, timesteps, dim, ...)`` ->
  ``Sampler(init, step, sample)``: reward-guided DDIM, ``sample(key, GuidanceParams, n)``;
  ``State``, ``Info``, and ``guidance_term``, the guidance of one step.
* ``rewards``: the ground-truth rewards and noisy labels; ``pipeline``: a trained predictor
  folder loaded for guided sampling and scoring; ``theory``: the subspace setting of §4–5.

Entry points: ``python -m reward_guidance.{fake_dataset,train,inference,sweep,subspace}``.
"""
