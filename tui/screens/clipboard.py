"""What to say after a copy: the console can only send text to the terminal (OSC 52), never know it arrived.

Inside tmux the sequence reaches the outer terminal only with `set-clipboard on`,
and many terminals ignore it; so the message says "sent", names what else holds
the text, and, in tmux, the setting that makes it work.
"""

from __future__ import annotations

from collections.abc import Mapping


def clipboard_sentence(what: str, env: Mapping[str, str], also: str | None = None) -> str:
    """One sentence for after `copy_to_clipboard(what…)`; `also` says where else the text is."""
    sentence = f"Sent {what} to your terminal's clipboard (OSC 52)"
    if env.get("TMUX"):
        sentence += "; inside tmux it arrives only with `set -g set-clipboard on`"
    else:
        sentence += "; a terminal that ignores OSC 52 copies nothing"
    return sentence + (f". {also}" if also else ".")
