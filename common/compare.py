r"""Overlay one history of several runs in one PNG.

    python -m common.compare --file_path=runs --expe_names=default,nested_warm10 \
        --history=exact_reward --out=runs/compare_exact_reward.png

reads ``<file_path>/<expe_name>/hist_<history>.npy`` of each run (1-D, or 2-D with one curve per
column, e.g. θ) and plots them against the step.
"""

import os

from absl import flags

from common.infra import cli
from common.infra import plotting

_FILE_PATH = cli.define_file_path()
_EXPE_NAMES = flags.DEFINE_list("expe_names", None, "Comma-separated experiment folder names.")
_HISTORY = flags.DEFINE_string("history", "reward", "Which hist_<history>.npy to plot.")
_OUT = flags.DEFINE_string("out", None, "PNG to write (default <file_path>/compare_<history>.png).")
_LOGY = flags.DEFINE_bool("logy", False, "Logarithmic y axis.")


def main(argv) -> None:
  del argv
  cli.check(bool(_EXPE_NAMES.value), "expe_names", "name at least one experiment folder")
  curves = {}
  for name in _EXPE_NAMES.value:
    path = os.path.join(_FILE_PATH.value, name, f"hist_{_HISTORY.value}.npy")
    values = cli.load_npy(path, "expe_names")
    cli.check(values.ndim in (1, 2) and values.shape[0] > 0, "history",
              f"{path} has shape {values.shape}; expected (steps,) or (steps, k)")
    if values.ndim == 1:
      curves[name] = values
    else:
      curves.update({f"{name}[{i}]": values[:, i] for i in range(values.shape[1])})
  out = _OUT.value or os.path.join(_FILE_PATH.value, f"compare_{_HISTORY.value}.png")
  cli.check(out.endswith(".png"), "out", f"must end in .png, got {out}")
  cli.check(not os.path.isdir(out), "out", f"{out} is a folder")
  folder = os.path.dirname(os.path.abspath(out))
  cli.check(os.path.isdir(folder) and os.access(folder, os.W_OK), "out",
            f"cannot write into {folder}")
  fig, (ax,) = plotting.new_figure(1, panel_size=5.0)
  plotting.plot_curves(ax, curves, ylabel=_HISTORY.value, title=_HISTORY.value, logy=_LOGY.value)
  plotting.save_figure(fig, out)
  print(f"Wrote {out}")


if __name__ == "__main__":
  cli.run(main)
