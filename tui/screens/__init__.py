"""Textual screens of npu-console (the UI side; the headless core never imports these)."""
