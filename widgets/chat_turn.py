"""One exchange in the playground: the prompt, the thinking (folded), the answer, and its numbers."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static


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
        self._prompt = prompt
        self._label = label
        self.answer_text = ""
        self.reasoning_text = ""

    def compose(self) -> ComposeResult:
        prompt = Text()
        prompt.append(f"{self._label} ▸ ", style="bold")
        prompt.append(self._prompt)
        yield Static(prompt, classes="prompt")
        with Collapsible(title="Thinking", collapsed=True, classes="-empty"):
            yield Static("", classes="reasoning")
        yield Static(Text("…", style="dim"), classes="answer")
        yield Static("", classes="stats")

    def show(self, answer: str, reasoning: str) -> None:
        """Redraw with the text so far (the caller coalesces; this is one update per call)."""
        self.answer_text = answer
        self.reasoning_text = reasoning
        if reasoning:
            box = self.query_one(Collapsible)
            box.remove_class("-empty")
            box.title = f"Thinking ({len(reasoning.split())} words)"
            self.query_one(".reasoning", Static).update(Text(reasoning))
        self.query_one(".answer", Static).update(Text(answer) if answer else Text("…", style="dim"))

    def finish(self, stats: str, error: str | None) -> None:
        """The numbers under the reply, and what went wrong (the partial text stays above it)."""
        self.query_one(".stats", Static).update(Text(stats))
        if error:
            self.mount(Static(Text(error), classes="error"))
