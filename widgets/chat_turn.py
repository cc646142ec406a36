"""One exchange in the playground: the prompt, the thinking (folded), the answer, and its numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from tui.api.reply import TokenLogprob
from tui.formatting import or_na
from tui.safe_text import escape_controls

SETTLE_AT = 1200  # characters of answer after which a block is settled and no longer redrawn


class ChatTurn(Vertical):
    """Draws a prompt and a reply that may still be streaming."""

    DEFAULT_CSS = """
    ChatTurn { height: auto; margin-bottom: 1; }
    ChatTurn .prompt { color: $text; background: $boost; padding: 0 1; height: auto; }
    ChatTurn Collapsible { height: auto; padding: 0; margin: 0; border: none; }
    ChatTurn Collapsible.-empty { display: none; }
    ChatTurn .reasoning { color: $text-muted; height: auto; }
    ChatTurn .answer { height: auto; padding: 0 1; }
    ChatTurn .stats { color: $text-muted; height: auto; padding: 0 1; }
    ChatTurn .error { color: $error; height: auto; padding: 0 1; }
    """

    def __init__(self, prompt: str, label: str = "you") -> None:
        super().__init__()
        self.prompt = prompt
        self._label = label
        self.answer_text = ""
        self.reasoning_text = ""
        self._settled = ""  # the start of the answer already drawn in blocks that no longer change

    def compose(self) -> ComposeResult:
        prompt = Text()
        prompt.append(f"{self._label} ▸ ", style="bold")
        prompt.append(escape_controls(self.prompt))
        yield Static(prompt, classes="prompt")
        with Collapsible(title="Thinking", collapsed=True, classes="-empty"):
            yield Static("", classes="reasoning")
        yield Static(Text("…", style="dim"), classes="answer live")
        yield Static("", classes="stats")

    def show(self, answer: str, reasoning: str) -> None:
        """Redraw with the text so far (the caller coalesces; this is one update per call).

        A long answer is drawn as settled blocks plus a live tail: only the tail is
        re-laid out on each update, so the cost of a redraw does not grow with the
        length of the reply.
        """
        self.answer_text = answer
        self.reasoning_text = reasoning
        answer, reasoning = escape_controls(answer), escape_controls(reasoning)  # never raw to the terminal
        if reasoning:
            box = self.query_one(Collapsible)
            box.remove_class("-empty")
            box.title = f"Thinking ({len(reasoning.split())} words)"
            self.query_one(".reasoning", Static).update(Text(reasoning))
        live = self.query_one(".live", Static)
        if not answer.startswith(self._settled):  # the final text differs from what streamed: start over
            for settled in self.query(".settled"):
                settled.remove()
            self._settled = ""
        tail = answer[len(self._settled):]
        while len(tail) > SETTLE_AT:
            cut = tail.rfind("\n", 0, SETTLE_AT)
            if cut < SETTLE_AT // 4:
                cut = tail.rfind(" ", 0, SETTLE_AT)
            if cut <= 0:
                cut = SETTLE_AT
            block, tail = tail[: cut + 1], tail[cut + 1 :]
            self.mount(Static(Text(block.removesuffix("\n")), classes="answer settled"), before=live)
            self._settled += block
        live.update(Text(tail) if answer else Text("…", style="dim"))

    def finish(self, stats: str, error: str | None, logprobs: Sequence[TokenLogprob] | None = None) -> None:
        """The numbers under the reply, what went wrong (the partial text stays above it), and — folded,
        for when they are wanted — each token's log-probability with the alternatives the server listed."""
        self.query_one(".stats", Static).update(Text(stats))
        if error:
            self.mount(Static(Text(escape_controls(error)), classes="error"))
        if logprobs:
            self.mount(Collapsible(Static(logprob_table(logprobs)), title=f"Logprobs ({len(logprobs)} tokens)",
                                   collapsed=True))


def logprob_table(logprobs: Sequence[TokenLogprob]) -> Table:
    """token · its probability · the top alternatives, one row per generated token."""
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
    table.add_column("#", justify="right", style="dim")
    table.add_column("token")
    table.add_column("p", justify="right")
    table.add_column("alternatives (p)", overflow="fold")
    for index, item in enumerate(logprobs):
        chance = or_na(None if item.logprob is None else math.exp(item.logprob), ".3f")
        others = "  ".join(f"{token!r} {math.exp(lp):.3f}" for token, lp in item.top if token != item.token)
        table.add_row(str(index), escape_controls(repr(item.token)), chance, escape_controls(others))
    return table
