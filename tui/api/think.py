"""Move `<think>…</think>` text out of the answer when the server has no reasoning parser.

vLLM started without `--reasoning-parser` (and `transformers serve` for most
models) streams a thinking model's reasoning inline in `content`, tags and all.
The playground and `ask` still want the thinking apart from the answer, as they
get it from `reasoning_content` when a parser is on. Tags arrive in pieces
(`<th` in one delta, `ink>` in the next), so the splitter holds back any tail
that could be the start of a tag until the next delta decides it.

Qwen3 "Thinking-2507" style templates open `<think>` in the prompt, so the
reply holds only the closing tag. A stream cannot know that text is reasoning
until the `</think>` arrives, so `ThinkSplitter` reports such an "orphan" close
(`orphan_close`) and `split_think` (for a whole reply) moves everything before
it into the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True)
class ThinkParts:
    """One piece of model output, cut into the answer and the thinking."""

    content: str
    reasoning: str


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest tail of `text` that is a proper prefix of `tag` (it may grow into the tag)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """A small state machine fed the content deltas of one reply, in order.

    `start_in_think=True` is for callers that know the prompt already opened
    the tag (a Qwen3 thinking template); then the text is reasoning until
    `</think>`.
    """

    def __init__(self, *, start_in_think: bool = False) -> None:
        self._in_think = start_in_think
        self._held = ""
        self._seen_open = start_in_think
        self.orphan_close = False
        """True once a `</think>` arrived with no `<think>` before it: the earlier content was thinking."""

    @property
    def in_think(self) -> bool:
        """True while inside a think block (what the next text will be, unless a tag intervenes)."""
        return self._in_think

    def feed(self, text: str) -> ThinkParts:
        """The answer and the thinking this delta completes; a possible partial tag is held back."""
        text = self._held + text
        self._held = ""
        content: list[str] = []
        reasoning: list[str] = []
        while text:
            if self._in_think:
                at = text.find(CLOSE_TAG)
                if at < 0:
                    keep = _partial_tag_suffix(text, CLOSE_TAG)
                    reasoning.append(text[: len(text) - keep])
                    self._held = text[len(text) - keep :]
                    break
                reasoning.append(text[:at])
                text = text[at + len(CLOSE_TAG) :]
                self._in_think = False
                continue
            open_at = text.find(OPEN_TAG)
            close_at = text.find(CLOSE_TAG) if not self._seen_open else -1
            if close_at >= 0 and (open_at < 0 or close_at < open_at):
                # A close with no open: the prompt opened the block; what came before was thinking.
                reasoning.append(text[:close_at])
                self.orphan_close = True
                self._seen_open = True
                text = text[close_at + len(CLOSE_TAG) :]
                continue
            if open_at < 0:
                keep = max(
                    _partial_tag_suffix(text, OPEN_TAG),
                    0 if self._seen_open else _partial_tag_suffix(text, CLOSE_TAG),
                )
                content.append(text[: len(text) - keep])
                self._held = text[len(text) - keep :]
                break
            content.append(text[:open_at])
            text = text[open_at + len(OPEN_TAG) :]
            self._in_think = True
            self._seen_open = True
        return ThinkParts("".join(content), "".join(reasoning))

    def flush(self) -> ThinkParts:
        """End of the reply: a held partial tag was text after all; it goes where the text was going."""
        held, self._held = self._held, ""
        return ThinkParts("", held) if self._in_think else ThinkParts(held, "")


def split_think(text: str, *, start_in_think: bool = False) -> tuple[ThinkParts, bool]:
    """A whole reply cut into answer and thinking, and whether it held an orphan `</think>`.

    With an orphan close, everything before it is thinking: the one-shot view can
    say so, where a stream could not.
    """
    splitter = ThinkSplitter(start_in_think=start_in_think)
    first = splitter.feed(text)
    last = splitter.flush()
    return ThinkParts(first.content + last.content, first.reasoning + last.reasoning), splitter.orphan_close
