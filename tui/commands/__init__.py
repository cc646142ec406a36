"""Headless subcommands of `npu-console`: each module adds its arguments and runs, no Textual imported."""
