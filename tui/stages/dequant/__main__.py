"""``python -m tui.stages.dequant``: see ``tui.stages.dequant.cli``."""

import sys

from tui.stages.dequant.cli import main

sys.exit(main())
