"""The test renderer prints exactly what real npu-smi printed, so the round-trip property means something.

Each real sample is parsed, rendered again in its layout, and compared line
for line. Pastes that stop early (053 after NPU 0's processes, 006 before the
closing border) must be a prefix of the rendering.
"""

from __future__ import annotations

import pytest

from tests.devices.render import LAYOUTS, render
from tests.devices.shared_corpus import shared_sample
from tui.devices.npu_smi_parser import parse_npu_smi_info

REAL_SAMPLES = [
    ("001", "910-98", False),
    ("026", "910-98", True),
    ("033", "910-98", False),
    ("015", "A3-98", False),
    ("006", "910-116", True),
    ("036", "910-86", False),
    ("035", "310-80", False),
    ("013", "310P-94", False),
    ("008", "310P-106-v22", False),
    ("005", "310P-106", False),
    ("053", "950-99", True),
]


@pytest.mark.parametrize(("prefix", "layout", "process_table"), REAL_SAMPLES)
def test_rendering_a_real_sample_gives_it_back(prefix: str, layout: str, process_table: bool) -> None:
    real = shared_sample(prefix).read_text(encoding="utf-8").splitlines()
    rendered = render(LAYOUTS[layout], parse_npu_smi_info("\n".join(real)), process_table=process_table)
    assert rendered.splitlines()[: len(real)] == real


def test_every_layout_is_anchored_to_a_real_sample_or_the_generated_corpus() -> None:
    anchored = {layout for _, layout, _ in REAL_SAMPLES}
    # 910-93 and 950-116 appear only in the generated corpus (and in FORMATS.md's width table).
    assert set(LAYOUTS) - anchored == {"910-93", "950-116"}
