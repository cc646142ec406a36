"""Cutting one `npu-smi info` table line into cells and reading the values in them.

The table is read by structure, never by column offsets: widths differ by
driver (80 to 116 columns), pastes add indentation and trailing spaces and
collapse runs of spaces. A row is split on `|`; a cell is split on whitespace;
a `used / total` pair is recognised whatever the padding around its slash
(`29954/ 65536`, `0    / 0`).

A line cut short by a paste (no closing `|`) still gives the cells it shows,
but its last cell may end in the middle of a value: unless the line ends in
whitespace, that cell's last token is dropped, so a half-visible number is
None rather than a wrong number.
"""

from __future__ import annotations

from typing import NamedTuple

#: Cells that mean "the tool has no value here".
MISSING = frozenset({"NA", "N/A", "-", "--", ""})


class Row(NamedTuple):
    """The cells of one `| … | … |` line, stripped; `cut` is the index of a cell cut short, else -1.

    A named tuple rather than a dataclass: one is made per table line, and it is the cheapest
    immutable value.
    """

    cells: tuple[str, ...]
    cut: int = -1

    @property
    def complete(self) -> bool:
        return self.cut < 0

    def is_cut(self, index: int) -> bool:
        """True when cell `index` is the cut one or lies beyond the cut (not printed at all)."""
        return 0 <= self.cut <= index


def split_row(line: str, raw: str) -> Row:
    """Cells of `line` (stripped, starting with `|`); `raw` is the unstripped line, for the cut check."""
    parts = line.split("|")
    if len(parts) > 2 and line.endswith("|"):
        return Row(tuple([part.strip() for part in parts[1:-1]]))
    cells = [part.strip() for part in parts[1:]]
    if cells and not raw[-1:].isspace():
        last = cells[-1]
        space = max(last.rfind(" "), last.rfind("\t"))
        cells[-1] = last[:space].rstrip() if space >= 0 else ""
    return Row(tuple(cells), cut=len(cells) - 1)


def is_border(line: str) -> bool:
    """`+----+`, `+====+`, the A3's full-width `+------+` between dies, and the 310P's odd `-=+`."""
    return line.startswith("+") and not line.strip("+-=")


class Values(NamedTuple):
    """The values of a right-hand cell: lone tokens in order, and the `used / total` pairs in order."""

    scalars: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]


def split_values(cell: str) -> Values:
    """`101.8  43  0 / 0` → scalars (101.8, 43), pairs ((0, 0),). A pair missing its total is dropped."""
    if "/" not in cell:
        return Values(tuple(cell.split()), ())
    tokens = cell.replace("/", " / ").split()
    scalars: list[str] = []
    pairs: list[tuple[str, str]] = []
    index = 0
    count = len(tokens)
    while index < count:
        token = tokens[index]
        if index + 1 < count and tokens[index + 1] == "/":
            if index + 2 < count:
                pairs.append((token, tokens[index + 2]))
            index += 3
        elif token != "/":
            scalars.append(token)
            index += 1
        else:
            index += 1
    return Values(tuple(scalars), tuple(pairs))


class Reader:
    """Turns printed values into numbers, noting on `warnings` any it cannot read.

    `NA`, `-` and empty cells are None without a warning: the tool prints them on
    purpose. Anything else that is not a number (a masked `xx`, a mangled paste)
    is None and a warning that names the value and where it was.
    """

    __slots__ = ("warnings",)

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings

    def integer(self, text: str | None, what: str, where: str) -> int | None:
        if text is None:
            return None
        if text.isdecimal():
            return int(text)
        if text in MISSING:
            return None
        try:
            return int(text)
        except ValueError:
            self.warnings.append(f"{where}: could not read {what} {text!r}")
            return None

    def number(self, text: str | None, what: str, where: str) -> float | None:
        if text is None or text in MISSING:
            return None
        try:
            return float(text)
        except ValueError:
            self.warnings.append(f"{where}: could not read {what} {text!r}")
            return None


def text_value(text: str | None) -> str | None:
    """A printed word (health, bus id) or None for `NA`, `-` and empty cells."""
    if text is None or text in MISSING:
        return None
    return text


def pick(items: tuple[str, ...], index: int) -> str | None:
    """items[index], or None when the row did not print that many."""
    return items[index] if index < len(items) else None


def pick_pair(pairs: tuple[tuple[str, str], ...], index: int) -> tuple[str | None, str | None]:
    if index < len(pairs):
        return pairs[index]
    return None, None
