"""The one rule for a value that was not measured: `N/A`, never 0, never blank."""

from __future__ import annotations

from tui.formatting import NOT_AVAILABLE, or_na


def test_none_is_not_available_and_zero_is_a_value() -> None:
    assert or_na(None) == NOT_AVAILABLE == "N/A"
    assert or_na(None, ".1f", " %") == "N/A", "no unit after N/A"
    assert or_na(0) == "0" and or_na(0.0, ".1f", " ms") == "0.0 ms"


def test_spec_and_unit_format_as_format_does() -> None:
    assert or_na(12.345, ".1f", " %") == "12.3 %"
    assert or_na(-3.0, "+.1f", "%") == "-3.0%"
    assert or_na(1234, ",") == "1,234"
    assert or_na("910B3") == "910B3" and or_na([1, 2, 4]) == "[1, 2, 4]"
