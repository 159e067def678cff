"""``python -m dxmi.pretrain``: trains (or loads) the digits DDPM and the metric classifier.

The same command as ``python -m common.pretrain_digits`` (the weights are shared with
``reward_guidance``); see there for the flags and outputs.
"""

from common import pretrain_digits
from common.infra import cli

if __name__ == "__main__":
  cli.run(pretrain_digits.main)
