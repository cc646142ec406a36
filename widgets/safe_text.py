"""Text from outside made safe to draw: the functions live in the headless core (`tui.safe_text`), where the
server pipeline prepares its log lines too."""

from tui.safe_text import escape_controls, log_text

__all__ = ["escape_controls", "log_text"]
