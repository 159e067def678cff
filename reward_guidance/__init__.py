"""Reward-directed conditional diffusion (Yuan et al. 2023)."""
