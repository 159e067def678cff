"""JAX's persistent compilation cache, so that a repeated run skips XLA compilation.

Compiling the training loop of a sampler costs seconds on a CPU (4 s for Adjoint Sampling, a
sixth of its run); with the cache, a second run with the same shapes and code loads the compiled
programs instead.
"""

import os

import jax


def enable(folder: str, min_compile_seconds: float = 0.5) -> None:
  """Caches every compilation that took longer than ``min_compile_seconds`` under ``folder``.

  Call before the first compilation. The cache is keyed by the program, the XLA flags and the
  JAX version, so a stale entry is never used; deleting ``folder`` is always safe.
  """
  os.makedirs(folder, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
