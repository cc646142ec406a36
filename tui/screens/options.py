"""The playground's parameters as a form: every field optional, each checked before it is used."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from textual.containers import Grid
from textual.widget import Widget
from textual.widgets import Button, Input, Label

from tui.api.request import Sampling
from tui.screens.dialog import DialogScreen


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


class OptionsScreen(DialogScreen[Options | None]):
    """Returns the edited options, or None on Esc; a bad value is named and the form stays open."""

    DEFAULT_CSS = """
    OptionsScreen > #dialog { max-width: 100; }
    OptionsScreen Grid { grid-size: 2; grid-columns: 22 1fr; grid-rows: 3; height: auto; }
    OptionsScreen Grid Label { padding-top: 1; }
    """
    dialog_title = "Playground options (empty = the server's default)"

    def __init__(self, options: Options, models: list[str]) -> None:
        super().__init__()
        self._options = options
        self._models = models

    def body(self) -> Iterable[Widget]:
        sampling = self._options.sampling
        hint = f"served: {', '.join(self._models)}" if self._models else "the server's first model"
        fields: list[Widget] = [
            Label("model"), Input(self._options.model or "", placeholder=hint, id="model"),
            Label("system prompt"), Input(self._options.system or "", id="system"),
        ]
        for name, label, _, expected in FIELDS:
            value = getattr(sampling, name)
            fields += [Label(label), Input("" if value is None else str(value), placeholder=expected, id=name)]
        fields += [Label("stop (comma-separated)"), Input(", ".join(sampling.stop), id="stop")]
        yield Grid(*fields)

    def buttons(self) -> Iterable[Widget]:
        yield Label("", id="problem")
        yield Button("Cancel", id="cancel")
        yield Button("Apply", id="apply", variant="primary")

    def initial_focus(self) -> Widget | None:
        return self.query_one("#model", Input)

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
