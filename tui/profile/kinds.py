"""The kinds of value a profile holds: each checks, converts, describes what it expects, and dumps.

`Kind` subclasses are the vocabulary `tui.profile.schema` describes tables with.
`At` carries the key path, so any check can raise a `ProfileError` that names
the file, the line and the dotted key; `describe` renders the offending value
the way it was written in TOML ("the string '8000'", "the boolean true").
TOML booleans are never integers, an integer is accepted where a float is
expected, and environment values must be strings because that is all a process
environment can hold.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.profile.locate import KeyLocator, KeyPath
from tui.profile.model import FlagValue, ProfileError, did_you_mean

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FLAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

ENV_NAME_EXPECTED = (
    "an environment variable name (letters, digits and underscores, not starting with a digit)"
)
NAME_CHARS = "letters, digits, '.', '_', '+' and '-'"

_RESERVED_FLAGS = {
    "host": "set the bind address with server.host, not as a flag",
    "port": "set the port with server.port, not as a flag",
    "served-model-name": "set it with server.served_model_name, not as a flag",
    "model": "the model comes from the [model] table (model.id or model.path), not from a flag",
    "api-key": (
        "keep the key out of the profile: put it in an environment variable and name that variable "
        "with server.api_key_env"
    ),
}


# Where an error is -------------------------------------------------------------------------


class Source:
    """The text being checked and its file, so errors can be located; the locator runs only on error."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.text = text
        self.path = path
        self._locator: KeyLocator | None = None

    @property
    def locator(self) -> KeyLocator:
        if self._locator is None:
            self._locator = KeyLocator(self.text)
        return self._locator


@dataclass(frozen=True)
class At:
    """A position in the profile (the key path) that can turn a message into a located error."""

    source: Source
    path: KeyPath = ()

    def child(self, key: str | int) -> At:
        return At(self.source, (*self.path, key))

    def error(self, message: str) -> ProfileError:
        return ProfileError(
            message,
            path=self.source.path,
            line=self.source.locator.line_of(self.path),
            key=dotted(self.path) or None,
        )


def dotted(path: KeyPath) -> str:
    """`server.flags.max-model-len`, `stages.precision.prompts[2]`, `environment.vars."A B"`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            text += f".{shown}" if text else shown
    return text


def describe(value: object) -> str:
    """A value as the operator wrote it in TOML, for "got …" in messages."""
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the float {_toml_float(value)}"
    if isinstance(value, str):
        if not value:
            return "an empty string"
        shown = value if len(value) <= 60 else value[:57] + "…"
        return f"the string {shown!r}" if "'" not in shown else f'the string "{shown}"'
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime.datetime):
        return f"the date-time {value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, datetime.time):
        return f"the time {value.isoformat()}"
    return f"a {type(value).__name__}"


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _toml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _toml_float(value)
    return str(value)


# Kinds of value ----------------------------------------------------------------------------


class Kind:
    """Checks one value, converts it to its model type, and dumps it back for TOML."""

    expected = "a value"

    def check(self, value: Any, at: At) -> Any:
        raise NotImplementedError

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        """The value as TOML-ready data (tables pass `include_defaults` down to their keys)."""
        return value

    def wrong(self, value: object, at: At, hint: str = "") -> ProfileError:
        return at.error(f"expected {self.expected}, got {describe(value)}{hint}")


class Str(Kind):
    """A string, optionally one of a fixed set or matching a pattern; empty strings refused."""

    def __init__(
        self,
        *,
        choices: tuple[str, ...] = (),
        pattern: re.Pattern[str] | None = None,
        expected: str | None = None,
        allow_empty: bool = False,
    ) -> None:
        self.choices = choices
        self.pattern = pattern
        self.allow_empty = allow_empty
        if expected is not None:
            self.expected = expected
        elif choices:
            self.expected = "one of " + ", ".join(f"'{choice}'" for choice in choices)
        else:
            self.expected = "a string" if allow_empty else "a non-empty string"

    def check(self, value: Any, at: At) -> str:
        if not isinstance(value, str):
            raise self.wrong(value, at)
        if self.choices and value not in self.choices:
            hint = did_you_mean(value, self.choices)
            raise self.wrong(value, at, f"; did you mean '{hint}'?" if hint else "")
        if not self.allow_empty and not value.strip():
            raise self.wrong(value, at)
        if self.pattern is not None and not self.pattern.match(value):
            raise self.wrong(value, at)
        return value


class Int(Kind):
    """An integer in a range; TOML booleans and floats are refused (`8000.0` is not a port)."""

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi
        if lo is not None and hi is not None:
            self.expected = f"an integer {lo}-{hi}"
        elif lo is not None:
            self.expected = f"an integer >= {lo}"
        else:
            self.expected = "an integer"

    def check(self, value: Any, at: At) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(value, at)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise self.wrong(value, at)
        return value


class Float(Kind):
    """A finite number in a range (integers accepted); `inf` only where it means "no limit"."""

    def __init__(
        self,
        lo: float | None = None,
        hi: float | None = None,
        *,
        lo_open: bool = False,
        allow_inf: bool = False,
    ) -> None:
        self.lo, self.hi, self.lo_open, self.allow_inf = lo, hi, lo_open, allow_inf
        if lo is not None and hi is not None and not lo_open:
            text = f"a number between {_num(lo)} and {_num(hi)}"
        elif lo is not None and hi is not None:
            text = f"a number > {_num(lo)} and <= {_num(hi)}"
        elif lo is not None:
            text = f"a number {'>' if lo_open else '>='} {_num(lo)}"
        else:
            text = "a number"
        self.expected = text + (", or inf" if allow_inf else "")

    def check(self, value: Any, at: At) -> float:
        if self.allow_inf and isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
            return math.inf
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.wrong(value, at)
        number = float(value)
        if math.isnan(number) or (math.isinf(number) and not (self.allow_inf and number > 0)):
            raise self.wrong(value, at)
        if math.isinf(number):
            return number
        too_low = self.lo is not None and (number <= self.lo if self.lo_open else number < self.lo)
        too_high = self.hi is not None and number > self.hi
        if too_low or too_high:
            raise self.wrong(value, at)
        return number


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Bool(Kind):
    expected = "true or false"

    def check(self, value: Any, at: At) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            raise at.error(f"expected true or false without quotes, got {describe(value)}")
        raise self.wrong(value, at)


class Array(Kind):
    """An array of one kind of item, kept as a tuple in the model."""

    def __init__(self, item: Kind, noun: str, *, nonempty: bool = False, example: str = "") -> None:
        self.item = item
        self.nonempty = nonempty
        self.expected = ("a non-empty array of " if nonempty else "an array of ") + noun + example

    def check(self, value: Any, at: At) -> tuple[Any, ...]:
        if not isinstance(value, list) or (self.nonempty and not value):
            raise self.wrong(value, at)
        return tuple(self.item.check(item, at.child(index)) for index, item in enumerate(value))

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        return [self.item.dump(item, include_defaults) for item in value]


class EnvVars(Kind):
    """NAME = "value" pairs: names a shell accepts, values that are strings."""

    expected = 'a table of NAME = "value" pairs'

    def check(self, value: Any, at: At) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.wrong(value, at)
        out: dict[str, str] = {}
        for name, item in value.items():
            where = at.child(name)
            if not ENV_NAME.match(name):
                raise where.error(f"expected {ENV_NAME_EXPECTED}, got {name!r}")
            if not isinstance(item, str):
                hint = ""
                if isinstance(item, (bool, int, float)):
                    hint = f'; environment values are text, so write {name} = "{_toml_scalar(item)}"'
                raise where.error(f"expected a string, got {describe(item)}{hint}")
            out[name] = item
        return out

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        return dict(value)


class Flags(Kind):
    """vLLM flags by their documented dashed names, with values that map onto argv."""

    expected = "a table of vLLM flags, e.g. { max-model-len = 4096 }"

    def check(self, value: Any, at: At) -> dict[str, FlagValue]:
        if not isinstance(value, dict):
            raise self.wrong(value, at)
        out: dict[str, FlagValue] = {}
        for name, item in value.items():
            where = at.child(name)
            _check_flag_name(name, where)
            out[name] = _check_flag_value(item, where)
        return out

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        return copy.deepcopy(dict(value))


def _check_flag_name(name: str, at: At) -> None:
    if name.startswith("-"):
        raise at.error(f"write flag names without the leading dashes, e.g. '{name.lstrip('-')}'")
    if "_" in name:
        raise at.error(
            f"vLLM flag names use dashes, as its --help prints them: write '{name.replace('_', '-')}'"
        )
    if not _FLAG_NAME.match(name):
        raise at.error(f"expected a flag name of letters, digits, '-' and '.', got {name!r}")
    reserved = _RESERVED_FLAGS.get(name)
    if reserved:
        raise at.error(reserved)


def _check_flag_value(value: Any, at: At) -> FlagValue:
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise at.error(f"expected a finite number, got {describe(value)}")
        return value
    if isinstance(value, list):
        if not value:
            raise at.error("expected at least one value in the array; set the flag to false to leave it out")
        items: list[str | int | float] = []
        for index, item in enumerate(value):
            ok = isinstance(item, (str, int, float)) and not isinstance(item, bool)
            if not ok or (isinstance(item, float) and not math.isfinite(item)):
                message = f"expected a string or a number in a flag's array, got {describe(item)}"
                raise at.child(index).error(message)
            items.append(item)
        return items
    if isinstance(value, dict):
        _check_json(value, at)
        return copy.deepcopy(value)
    raise at.error(f"expected a string, number, boolean, array or table, got {describe(value)}")


def _check_json(value: Any, at: At) -> None:
    """A flag table is passed as JSON: only JSON's types, and finite numbers."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, at.child(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, at.child(index))
    elif isinstance(value, float) and not math.isfinite(value):
        raise at.error(
            f"expected a finite number inside a flag's table (it is passed as JSON), got {describe(value)}"
        )
    elif not isinstance(value, (str, int, float, bool)):
        raise at.error(
            "expected a JSON value (string, number, boolean, array or table) inside a flag's table, "
            f"got {describe(value)}"
        )


STRING = Str()
STRINGS = Array(STRING, "strings")
