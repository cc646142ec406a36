"""``python -m tui.stages.dequant``: see ``tui.stages.dequant.cli``."""

import sys

from tui.stages.dequant.cli import program

if __name__ == "__main__":
    sys.exit(program())
