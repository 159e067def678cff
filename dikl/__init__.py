"""DiKL: neural samplers trained with the reverse diffusive KL (He et al. 2025)."""
