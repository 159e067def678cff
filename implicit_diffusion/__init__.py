"""Implicit Diffusion (Marion et al. 2024): optimise a sampler through its stationary law."""
