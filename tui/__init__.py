"""npu-console: a terminal console for bringing up LLMs on Ascend NPU hosts.

This package is imported by every entry point, the `--help` path included, so it
imports nothing: the headless core lives in submodules, the Textual app in
`tui.app`.
"""

__version__ = "0.1.0"
