"""One captured field: a value with the place it was read from, or null with the reason it could not be read."""

from __future__ import annotations

from typing import Any


def found(value: Any, source: str, **extra: Any) -> dict[str, Any]:
    """A field that was read: its value and where from (a file path or the command that printed it)."""
    return {"value": value, "source": source, **extra}


def missing(reason: str, **extra: Any) -> dict[str, Any]:
    """A field that could not be read: null, and one sentence saying why."""
    return {"value": None, "reason": reason, **extra}
