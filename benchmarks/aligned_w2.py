"""Cost of the aligned W2 (``common.evaluation.alignment``) at the protocol's 2000 × 2000 pairs.

    python benchmarks/aligned_w2.py [--sizes=2000] [--targets=dw,lj]

For each target: seconds for the N × N matched-and-aligned pair costs (one compilation first,
not counted) and for the exact W2 on them, on random centred configurations.
"""

import argparse
import time

import numpy as np

from common.evaluation import alignment
from common.targets import benchmarks as targets_lib
from common.targets import particles


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--sizes", default="2000")
  parser.add_argument("--targets", default="dw,lj")
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  for name in args.targets.split(","):
    target = targets_lib.get_target(name)
    for size in map(int, args.sizes.split(",")):
      x, y = (np.asarray(particles.remove_centre_of_mass(
          rng.standard_normal((size, target.dim)).astype(np.float32), target.n_particles))
          for _ in range(2))
      alignment.aligned_wasserstein2(x[:8], y[:8], target.n_particles)  # compile
      start = time.perf_counter()
      costs = alignment.aligned_pair_costs(x, y, target.n_particles)
      pair_seconds = time.perf_counter() - start
      start = time.perf_counter()
      alignment.aligned_wasserstein2(x, y, target.n_particles)
      total = time.perf_counter() - start
      print(f"{name} {size} x {size}: pair costs {pair_seconds:.1f} s (first call, compiling) "
            f"aligned W2 {total:.1f} s (compiled)",
            flush=True)


if __name__ == "__main__":
  main()
