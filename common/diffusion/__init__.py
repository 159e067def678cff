"""Diffusion models: discrete-time DDPM schedules, the ε-prediction loss, ancestral and DDIM sampling.

Modules: ``ddpm``.
"""
