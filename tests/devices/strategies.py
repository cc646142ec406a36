"""Hypothesis strategies for device readings that a given `npu-smi` layout can print.

Each layout limits what a reading may hold: the 950 prints no chip index, only
the A3 prints a Phy-ID, the 310 family has no HBM pair, the oldest tables have
no Hugepages column, only the 26.x wide tables print a container PID. The
strategies draw exactly the readings a layout can express, so a round trip
through `render` and the parser must give them back unchanged.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.devices.render import Layout
from tui.devices.snapshot import ChipReading, DeviceProcess, DeviceSnapshot

NAMES = {
    "910": ["910B1", "910B2", "910B2C", "910B3", "910B4", "910B4-1"],
    "910-old": ["910A", "910ProB"],
    "A3": ["Ascend910"],
    "310": ["310"],
    "310P": ["310P3", "310P1", "310Pvir01", "310Pvir02", "310B1", "310B4"],
    "950": ["Ascend950PR", "Ascend950DT"],
}
HEALTH = ["OK", "Warning", "Alarm", "Critical", "UNKNOWN"]
VERSIONS = ["22.0.4", "23.0.rc3", "24.1.rc1.b030", "24.1.0", "24.1.0.3", "25.0.rc1.1", "25.5.1", "25.7.rc1",
            "26.0.rc1", "26.1.0"]
NPU_IDS = st.one_of(st.integers(0, 15), st.sampled_from([32, 96, 128, 2048, 32768, 32800, 32896]))

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-", min_size=1,
                max_size=15)
process_names = st.one_of(
    st.just(""),
    st.sampled_from(["python", "python3", "vllm", "VLLMWorker_TP", "ray::IDLE", "RayWorkerWrappe"]),
    _word,
)
chip_names = st.one_of(_word, st.builds(lambda a, b: f"{a} {b}", _word, _word))


def _family(layout: Layout) -> str:
    if layout.name.startswith("A3"):
        return "A3"
    if layout.name in ("910-86", "910-93"):
        return "910-old"
    return layout.name.split("-")[0]


def chips_per_card(layout: Layout) -> st.SearchStrategy[int]:
    if layout.phy_id:
        return st.just(2)
    if layout.name == "310-80":
        return st.integers(1, 4)
    if layout.name.startswith("310P"):
        return st.integers(1, 2)
    return st.just(1)


@st.composite
def chip_readings(draw: st.DrawFn, layout: Layout, npu: int, chip: int, phy_id: int) -> ChipReading:
    second_die = layout.phy_id and chip == 1
    pair = st.integers(0, 200_000)
    tenths = st.integers(0, 9999).map(lambda t: t / 10)
    hugepages = layout.hugepages
    return ChipReading(
        npu=npu,
        chip=chip if layout.chip_index else None,
        phy_id=phy_id if layout.phy_id else None,
        name=draw(st.one_of(st.sampled_from(NAMES[_family(layout)]), chip_names, st.just(""))),
        health=draw(st.sampled_from(HEALTH)),
        power_w=None if second_die else draw(st.one_of(st.none(), tenths)),
        temp_c=draw(st.one_of(st.none(), st.integers(0, 120))),
        hugepages_used=draw(pair) if hugepages else None,
        hugepages_total=draw(pair) if hugepages else None,
        bus_id=draw(st.one_of(st.none(), st.builds("0000:{:02X}:{:02X}.0".format, st.integers(0, 255),
                                                   st.integers(0, 3)))),
        util_pct=draw(st.one_of(st.none(), st.integers(0, 100))),
        memory_used_mb=draw(pair),
        memory_total_mb=draw(pair),
        hbm_used_mb=draw(pair) if layout.hbm else None,
        hbm_total_mb=draw(pair) if layout.hbm else None,
    )


@st.composite
def snapshots(draw: st.DrawFn, layout: Layout) -> DeviceSnapshot:
    """A table's worth of readings for `layout`: sparse NPU ids, chips grouped by card, processes by NPU."""
    npus = draw(st.lists(NPU_IDS, min_size=1, max_size=6, unique=True))
    chips: list[ChipReading] = []
    processes: list[DeviceProcess] = []
    container_pids = st.one_of(st.none(), st.integers(1, 99_999))
    for npu in npus:
        count = draw(chips_per_card(layout))
        card = [draw(chip_readings(layout, npu, index, len(chips) + index)) for index in range(count)]
        chips += card
        if layout.process_row is None:
            continue
        for _ in range(draw(st.integers(0, 3))):
            chip = draw(st.sampled_from(card)).chip
            processes.append(DeviceProcess(
                npu=npu,
                chip=chip,
                pid=draw(st.integers(1, 4_194_304)),
                container_pid=draw(container_pids) if layout.container_pid else None,
                name=draw(process_names),
                memory_mb=draw(st.integers(0, 200_000)),
            ))
    titled = draw(st.booleans())
    tool = draw(st.sampled_from(VERSIONS)) if titled else None
    driver = draw(st.sampled_from(VERSIONS)) if titled else None
    return DeviceSnapshot(
        backend="npu-smi", tool_version=tool, driver_version=driver, chips=tuple(chips),
        processes=tuple(processes),
    )
