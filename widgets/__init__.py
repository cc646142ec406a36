"""Textual widgets of npu-console: they draw what they are given and do no I/O."""
