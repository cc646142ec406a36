"""The contract's scalar fields, each from the best of its sources, each source's first statement.

A log states some facts several times and in several ways: the target model's
`Using max model len` and then the drafter's; the config dump's `max_seq_len`;
the `'max_model_len'` argument; `--max-model-len` on an echoed command. The
contract wants the first statement (the drafter comes second) from the best
source (RULES.md), whatever the line order, so each field keeps one
slot per source priority, filled once, and its value is the best filled slot.

A hard-wrapped record is read twice, truncated and then joined; a slot filled
from the truncated reading is corrected by the joined one (same line).
"""

from __future__ import annotations


class FieldStore:
    """Per field, the first value of each source; `value(name)` is the best one."""

    __slots__ = ("_slots", "_values")

    def __init__(self, names: tuple[str, ...], sources: int) -> None:
        self._slots: dict[str, list[tuple[object, int] | None]] = {name: [None] * sources for name in names}
        self._values: dict[str, object] = dict.fromkeys(names)

    def value(self, name: str) -> object:
        return self._values[name]

    def offer(self, name: str, priority: int, value: object, line: int, amend: bool = False) -> bool:
        """Keep `value` if source `priority` of `name` had none (or `amend` restates `line`); True if `name` changed."""
        if value is None:
            return False
        slots = self._slots[name]
        held = slots[priority]
        if held is not None and not (amend and held[1] == line):
            return False
        slots[priority] = (value, line)
        best = next(slot[0] for slot in slots if slot is not None)
        if best == self._values[name]:
            return False
        self._values[name] = best
        return True
