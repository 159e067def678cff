"""Implicit Diffusion (Marion et al. 2024, §5.1): optimise a sampler through its stationary law.

Public API (``implicit_diffusion.algorithm``, the ``common.types`` contract):

* ``implicit_diffusion(*, reward_fn, component_rewards, theta_init, num_particles, ...)`` ->
  ``Sampler(init, step, sample)``: the single loop (one Langevin step and one θ step per
  iteration) or the nested-loop baseline; ``State``, ``Info``; ``Draws`` and
  ``single_loop_draw(...)``, the single loop's random numbers.
* ``exact_gradient_flow(*, component_rewards, theta_init, learning_rate, ...)`` ->
  ``Sampler``: the exact flow by quadrature; ``FlowInfo``.
* ``run(algorithm, seeds, num_steps, chunk_size, ...)`` and ``make_runner``: the compiled loop
  on the published key chain; ``component_rewards(reward_fn)``, ``exact_reward``.

``implicit_diffusion.reward`` holds the two rewards; ``python -m implicit_diffusion.main`` is
the entry point.
"""
