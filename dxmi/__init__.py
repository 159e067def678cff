"""DxMI: diffusion fine-tuned by maximum-entropy IRL (Yoon et al. 2024)."""
