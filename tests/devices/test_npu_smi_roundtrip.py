"""Property: any readings a layout can print, printed in that layout, parse back to themselves.

The renderer is anchored to real samples (test_render.py); here it prints
random readings in every layout, with the damage pastes bring (indentation,
trailing spaces, a missing title, a table cut at the top or the bottom, the
driver's `[WARNING]` trailer), and the parser must give back exactly what a
reader of the damaged text can still see.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.devices.render import LAYOUTS, expected_after_cut, render, render_lines
from tests.devices.strategies import snapshots
from tui.devices.npu_smi_parser import parse_npu_smi_info

EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("layout_name", sorted(LAYOUTS))
@EXAMPLES
@given(data=st.data())
def test_render_then_parse_gives_the_readings_back(layout_name: str, data: st.DataObject) -> None:
    layout = LAYOUTS[layout_name]
    snapshot = data.draw(snapshots(layout))
    assert parse_npu_smi_info(render(layout, snapshot)) == snapshot


@pytest.mark.parametrize("layout_name", sorted(LAYOUTS))
@EXAMPLES
@given(data=st.data())
def test_pasted_and_cut_tables_keep_what_is_visible(layout_name: str, data: st.DataObject) -> None:
    layout = LAYOUTS[layout_name]
    snapshot = data.draw(snapshots(layout))
    warning = data.draw(st.booleans())
    lines = render_lines(layout, snapshot, warning=warning)
    header_end = next(i for i, line in enumerate(lines) if line.text.startswith("+=")) + 1
    top = data.draw(st.integers(0, header_end))
    bottom = data.draw(st.integers(top, len(lines)))
    kept = lines[top:bottom]
    indent = data.draw(st.sampled_from(["", "  ", "    ", "        ", "\t"]))
    trailing = data.draw(st.lists(st.sampled_from(["", " ", "   "]), min_size=len(kept), max_size=len(kept)))
    text = "".join(f"{indent}{line.text}{pad}\n" for line, pad in zip(kept, trailing, strict=True))
    expected = expected_after_cut(snapshot, kept, warning=warning)
    assert parse_npu_smi_info(text) == expected
