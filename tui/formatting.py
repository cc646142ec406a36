"""How a value that was not measured is shown: `N/A`, never 0 and never blank.

One rule for the console's widgets and its CLI commands alike.
"""

from __future__ import annotations

NOT_AVAILABLE = "N/A"


def or_na(value: object, spec: str = "", unit: str = "") -> str:
    """`value` formatted with the format spec `spec` and followed by `unit`, or `N/A` when it is None.

    `or_na(12.34, ".1f", " %")` is `12.3 %`; `or_na(None, ".1f", " %")` is `N/A`; `or_na(0)` is `0`.
    """
    return NOT_AVAILABLE if value is None else format(value, spec) + unit
