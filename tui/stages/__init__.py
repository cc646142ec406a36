"""Long jobs (download, dequant, bench, precision, evidence, report) as subprocesses.

Each stage is `python -m tui.stages.<name> …`, speaking JSON lines on stdout
(`tui.stages.events`), so the TUI, the CLI and a shell script drive it the same
way, and its heavy imports (torch, safetensors) never enter the console's own
process. `tui.stages.runner` starts, watches and cancels them. This package
imports nothing, so a stage under the serving environment's Python pays only for
what it uses.
"""
