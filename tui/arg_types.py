"""argparse value types every command line shares: numbers with bounds, refused in one sentence.

`bounded(int, "a whole number", at_least=1)` is an argparse `type=` that converts the text, refuses
NaN and anything outside the bounds, and says why as `expected a whole number at least 1, got 0`
(argparse puts `argument --runs:` in front). The common ones are named here, so `npu-console`,
its subcommands and the stages (`python -m tui.stages.*`) check a count, a timeout or a sampling
parameter by one rule. Stdlib only: the stages import it under the serving environment's Python.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def _bound(above: float | None, at_least: float | None, at_most: float | None) -> str:
    lower = f"above {above:g}" if above is not None else f"at least {at_least:g}" if at_least is not None else ""
    if at_most is None:
        return lower
    if at_least is not None:
        return f"from {at_least:g} to {at_most:g}"
    return f"{lower} and at most {at_most:g}" if lower else f"at most {at_most:g}"


def bounded(convert: Callable[[str], Number], kind: str, *, above: float | None = None,
            at_least: float | None = None, at_most: float | None = None) -> Callable[[str], Number]:
    """An argparse type: `convert`, then refuse NaN, values at or below `above`, under `at_least`, over `at_most`."""

    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if math.isnan(value) or (above is not None and not value > above) or (
                at_least is not None and value < at_least) or (at_most is not None and value > at_most):
            raise argparse.ArgumentTypeError(f"expected {kind} {_bound(above, at_least, at_most)}, got {text}")
        return value

    return parse


positive_int = bounded(int, "a whole number", at_least=1)
non_negative_int = bounded(int, "a whole number", at_least=0)
positive_float = bounded(float, "a number", above=0)
non_negative_float = bounded(float, "a number", at_least=0)
seconds = bounded(float, "seconds", above=0)
top_p = bounded(float, "top_p", above=0, at_most=1)
