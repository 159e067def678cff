"""Adjoint Sampling and ASBS (Havens et al. 2025, Liu et al. 2025), and a Nakkiran-style DDPM."""
