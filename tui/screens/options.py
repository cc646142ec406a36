"""The playground's parameters as a form: every field optional, each checked before it is used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tui.api.request import Sampling


@dataclass(frozen=True)
class Options:
    """What the form edits: the model, the system prompt and the sampling parameters."""

    model: str | None
    system: str | None
    sampling: Sampling


def _number(kind: Callable[[str], Any], low: float | None = None, high: float | None = None
            ) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}")
        return value
    return parse


# (field, label, parser, what is expected)
FIELDS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("max_tokens", "max tokens", _number(int, 1), "a whole number ≥ 1"),
    ("temperature", "temperature", _number(float, 0, 2), "a number 0–2"),
    ("top_p", "top_p", _number(float, 0, 1), "a number 0–1"),
    ("seed", "seed", int, "a whole number"),
    ("presence_penalty", "presence penalty", _number(float, -2, 2), "a number −2–2"),
    ("frequency_penalty", "frequency penalty", _number(float, -2, 2), "a number −2–2"),
    ("repetition_penalty", "repetition penalty", _number(float, 0.01, 10), "a number > 0"),
    ("logprobs", "logprobs (top-k)", _number(int, 0, 20), "a whole number 0–20"),
)


class OptionsScreen(ModalScreen[Options | None]):
    """Returns the edited options, or None on Esc; a bad value is named and the form stays open."""

    DEFAULT_CSS = """
    OptionsScreen { align: center middle; }
    OptionsScreen > Vertical {
        width: 90%; max-width: 100; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    OptionsScreen Grid { grid-size: 2; grid-columns: 22 1fr; grid-rows: 3; height: auto; }
    OptionsScreen Label { padding-top: 1; }
    OptionsScreen #problem { color: $error; height: auto; padding-top: 0; }
    OptionsScreen Horizontal { height: auto; align-horizontal: right; }
    OptionsScreen Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, options: Options, models: list[str]) -> None:
        super().__init__()
        self._options = options
        self._models = models

    def compose(self) -> ComposeResult:
        sampling = self._options.sampling
        with Vertical() as box:
            box.border_title = "Playground options (empty = the server's default)"
            with Grid():
                yield Label("model")
                hint = f"served: {', '.join(self._models)}" if self._models else "the server's first model"
                yield Input(self._options.model or "", placeholder=hint, id="model")
                yield Label("system prompt")
                yield Input(self._options.system or "", id="system")
                for name, label, _, expected in FIELDS:
                    yield Label(label)
                    value = getattr(sampling, name)
                    yield Input("" if value is None else str(value), placeholder=expected, id=name)
                yield Label("stop (comma-separated)")
                yield Input(", ".join(sampling.stop), id="stop")
            yield Label("", id="problem")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="apply", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._apply()

    def _apply(self) -> None:
        values: dict[str, Any] = {}
        for name, label, parse, expected in FIELDS:
            text = self.query_one(f"#{name}", Input).value.strip()
            if not text:
                values[name] = None
                continue
            try:
                values[name] = parse(text)
            except ValueError:
                self.query_one("#problem", Label).update(f"{label}: expected {expected}, got {text!r}.")
                self.query_one(f"#{name}", Input).focus()
                return
        stop = tuple(part.strip() for part in self.query_one("#stop", Input).value.split(",") if part.strip())
        model = self.query_one("#model", Input).value.strip() or None
        system = self.query_one("#system", Input).value.strip() or None
        self.dismiss(Options(model, system, replace(self._options.sampling, stop=stop, **values)))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
