"""Speed of every method's hot loop, compiled (scan) against dispatched one step at a time.

    python benchmarks/run.py [--quick] [--repeats=5] [--cases=implicit_diffusion,asbs]
                             [--particles=1000 --langevin_steps=5000 --paths=1000 ...]

Prints one Markdown table. For each hot loop of ``benchmarks/hot_loops.py``, one fresh
process builds both variants (``scan``: the library's compiled loop; ``dispatch``: a Python
loop calling the library's jitted single step, as the published JAX code of Implicit Diffusion
does) and runs each once: compile time is that first run's time minus the median run's
(tracing, lowering, compiling), and in brackets the XLA compilation time JAX itself reports
(``jax.monitoring``). Then it times ``--repeats`` runs of each, alternating,
so that the load of a shared machine hits both alike: throughput is work / median run time,
the speed-up is the median over the pairs of dispatch time / scan time, in wall time and in
CPU time (``time.process_time``, all threads of the process: on a loaded machine a variant
with more runnable threads gets a larger share of the cores, which biases wall time), and any
compilation during these runs is reported (there should be none). Peak memory is the process's maximum
resident set size on CPU (read after the scanned variant's first run; it includes the
interpreter and JAX, shown in the header) or the device's ``peak_bytes_in_use`` where the
device reports it (GPU).
"""

import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# This folder holds scripts named like the packages they measure (adjoint.py,
# implicit_diffusion.py): put the repository before it on the import path, so that the packages
# win, and keep it last for ``hot_loops``.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = ([os.path.dirname(_HERE)]
            + [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [_HERE])

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from common.infra import cli
from common.infra import io

_CASES = flags.DEFINE_list("cases", None, "Hot loops to run (default: all).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed runs after the first (median reported).")
_QUICK = flags.DEFINE_bool("quick", False, "Short runs (sizes below, unless given).")
_WORKER = flags.DEFINE_string("worker", None, "Internal: run one case here, print JSON.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
# Sizes: (default, --quick default, help).
_SIZES = {
    "particles": (1000, 1000, "Implicit Diffusion particles (published: 1000)."),
    "langevin_steps": (5000, 1000, "Implicit Diffusion iterations per run (published: 5000)."),
    "paths": (1000, 1000, "AS/ASBS paths per batch (default config: 1000)."),
    "em_steps": (124, 124, "AS/ASBS Euler–Maruyama steps per path (default config: 124)."),
    "em_batches": (3, 1, "AS/ASBS path batches per run."),
    "posterior_batch": (256, 64, "DiKL noisy points per run (quick preset batch: 256)."),
    "dikl_iterations": (20, 5, "DiKL training iterations per run."),
    "dxmi_iterations": (100, 20, "DxMI iterations per run."),
    "guided_images": (100, 20, "Guided DDIM images per run."),
}
_SIZE_FLAGS = {name: flags.DEFINE_integer(name, default, text)
               for name, (default, _, text) in _SIZES.items()}


def _max_rss_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _sizes() -> dict:
  return {name: flag.value if flag.present or not _QUICK.value else _SIZES[name][1]
          for name, flag in _SIZE_FLAGS.items()}


def _peak_mib(device) -> tuple[float, str]:
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"] / 2**20, f"{device.platform} peak_bytes_in_use"
  return _max_rss_mib(), "process max RSS"


def worker(case_name: str, sizes: dict, repeats: int) -> dict:
  """Both variants of one case in this process: each built and run once (compiling), the
  peak memory read after each, then ``repeats`` timed runs of each, alternating, so that a
  change in the load of a shared machine hits both alike."""
  import jax
  from common.infra import compilation
  import hot_loops

  imported_mib = _max_rss_mib()
  out = {"case": case_name, "imported_mib": imported_mib, "backend": jax.default_backend(),
         "devices": jax.device_count(), "jax": jax.__version__, "repeats": repeats}
  workloads, carries = {}, {}
  for variant in hot_loops.VARIANTS:
    workloads[variant] = hot_loops.CASES[case_name].build(sizes, variant)
    with compilation.count_compilations() as first:
      start = time.perf_counter()
      carries[variant] = workloads[variant].run(workloads[variant].carry)
      first_s = time.perf_counter() - start
    peak_mib, out["memory"] = _peak_mib(jax.devices()[0])
    out[variant] = {"first_s": first_s, "xla_compile_s": first.seconds,
                    "compilations": first.count, "peak_mib": peak_mib, "times_s": [],
                    "cpu_s": []}
  out["size"], out["work"] = workloads["scan"].size, workloads["scan"].work
  with compilation.count_compilations() as steady:
    for _ in range(repeats):
      for variant in hot_loops.VARIANTS:
        start, start_cpu = time.perf_counter(), time.process_time()
        carries[variant] = workloads[variant].run(carries[variant])
        out[variant]["times_s"].append(time.perf_counter() - start)
        out[variant]["cpu_s"].append(time.process_time() - start_cpu)
  out["recompilations"] = steady.count
  for variant in hot_loops.VARIANTS:
    median = statistics.median(out[variant]["times_s"])
    out[variant]["throughput"] = out["work"] / median
    out[variant]["first_minus_median_s"] = out[variant]["first_s"] - median
  for kind in ("times_s", "cpu_s"):
    out[f"speed_up_{kind}"] = statistics.median(
        d / s for s, d in zip(out["scan"][kind], out["dispatch"][kind]))
  return out


def _spawn(case_name: str, sizes: dict, repeats: int) -> dict:
  command = [sys.executable, os.path.abspath(__file__), f"--worker={case_name}",
             f"--repeats={repeats}"] + [f"--{k}={v}" for k, v in sizes.items()]
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError(f"{case_name} failed:\n{done.stderr[-3000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def _rate(x: float) -> str:
  for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
    if x >= scale:
      return f"{x / scale:.3g}{suffix}"
  return f"{x:.3g}"


def _commit() -> str:
  done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=_HERE, capture_output=True,
                        text=True, check=False)
  dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_HERE,
                         capture_output=True, text=True, check=False).stdout.strip()
  return (done.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def table(results: list[dict], hot_loop_cases: dict) -> str:
  lines = ["| hot loop | sizes | scan: compile s (XLA) | scan: throughput | scan: peak MiB | "
           "dispatched per Python iteration | dispatch: compile s (XLA) | dispatch: throughput | "
           "speed-up: wall time | speed-up: CPU time | compilations after the first run |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in results:
    case = hot_loop_cases[r["case"]]
    scan, dispatch = r["scan"], r["dispatch"]
    lines.append(
        f"| {case.title} | {r['size']} | {scan['first_minus_median_s']:.2f} "
        f"({scan['xla_compile_s']:.2f}) | {_rate(scan['throughput'])} {case.unit} | "
        f"{scan['peak_mib']:.0f} | {case.step} | {dispatch['first_minus_median_s']:.2f} "
        f"({dispatch['xla_compile_s']:.2f}) | {_rate(dispatch['throughput'])} {case.unit} | "
        f"**{r['speed_up_times_s']:.2f}×** | {r['speed_up_cpu_s']:.2f}× | "
        f"{r['recompilations']} |")
  return "\n".join(lines)


def main(argv):
  del argv
  sizes = _sizes()
  cli.check(_REPEATS.value >= 1, "repeats", f"must be at least 1, got {_REPEATS.value}")
  for name, value in sizes.items():
    cli.check(value >= 1, name, f"must be at least 1, got {value}")
  if _JSON.value:
    folder = os.path.dirname(os.path.abspath(_JSON.value))
    cli.check(os.path.isdir(folder) and not os.path.isdir(_JSON.value), "json",
              f"{_JSON.value} is not a file path in an existing folder")
  if _WORKER.value:
    print(json.dumps(worker(_WORKER.value, sizes, _REPEATS.value)))
    return
  import hot_loops
  names = _CASES.value or list(hot_loops.CASES)
  unknown = sorted(set(names) - set(hot_loops.CASES))
  cli.check(not unknown, "cases", f"unknown {unknown}; choose from {list(hot_loops.CASES)}")
  load_before = os.getloadavg()
  started = time.perf_counter()
  results = []
  for name in names:
    print(f"{name} ...", file=sys.stderr, flush=True)
    results.append(_spawn(name, sizes, _REPEATS.value))
  load_after = os.getloadavg()
  first = results[0]
  print(f"\n{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
        f"{_commit()}; jax {first['jax']}, backend {first['backend']}, {first['devices']} "
        f"device(s), {os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; {time.perf_counter() - started:.0f} s in all.")
  print(f"Throughput: median of {_REPEATS.value} timed runs after a first (compiling) run, "
        f"scan and dispatch alternating in one process per hot loop; speed-ups: median over "
        f"the pairs of dispatch / scan, in wall time and in the process's CPU time (all "
        f"threads; the fairer measure on a shared machine). Peak memory: "
        f"{first['memory']} after the scanned variant's first run (a process that has imported "
        f"JAX and the library: {first['imported_mib']:.0f} MiB).\n")
  print(table(results, hot_loops.CASES))
  if _JSON.value:
    io.save_json(_JSON.value, {"sizes": sizes, "repeats": _REPEATS.value, "results": results})


if __name__ == "__main__":
  # Not the persistent compilation cache of the entry points: the first runs time compilation.
  cli.run(main, compilation_cache=False)
