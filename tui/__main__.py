"""`python -m tui` is `npu-console` (for environments where the script is not on PATH)."""

import sys

from tui.cli import main

sys.exit(main())
