"""Writes the project's own `npu-smi info` fixtures and their expected JSON (a script, not a test).

Run: `.venv/bin/python tests/devices/make_npu_smi_fixtures.py`; it rewrites the tables it names in
tests/fixtures/npu-smi/.

The tables are printed by `tests/devices/render.py`, whose layouts are checked
byte for byte against real samples (test_render.py), from readings written
down here; the expected JSON is those readings, not the parser's output, so the
fixture tests check the parser against an independent source. The values are
the kind a busy host shows (vLLM TP workers on every die, HBM near full, a
die with `-` power), drawn from a fixed seed so the files never change.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.devices.render import LAYOUTS, render  # noqa: E402
from tui.devices.snapshot import ChipReading, DeviceProcess, DeviceSnapshot  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "npu-smi"
WORKERS = ["VLLMWorker_TP", "VLLMEngineCoreP", "python3", "RayWorkerWrappe", "", "ray::IDLE", "torchrun"]


def _chip(rng: random.Random, npu: int, chip: int | None, busy: bool = True, **fields: object) -> ChipReading:
    """A 910B-like die: busy ones hold most of their HBM and show AI Core load, idle ones ~3.3 GB."""
    values: dict[str, object] = {
        "npu": npu, "chip": chip, "phy_id": None, "name": "910B3", "health": "OK",
        "power_w": rng.randint(1500, 3200) / 10 if busy else rng.randint(700, 1000) / 10,
        "temp_c": rng.randint(45, 71) if busy else rng.randint(32, 44),
        "hugepages_used": 0, "hugepages_total": 0,
        "bus_id": f"0000:{rng.randrange(256):02X}:00.0", "util_pct": rng.randint(20, 100) if busy else 0,
        "memory_used_mb": 0, "memory_total_mb": 0,
        "hbm_used_mb": rng.randint(45000, 62000) if busy else rng.randint(3300, 3320), "hbm_total_mb": 65536,
    }
    values.update(fields)
    return ChipReading(**values)  # type: ignore[arg-type]


def _processes(rng: random.Random, chips: list[ChipReading], per_chip: int, container: bool = False
               ) -> list[DeviceProcess]:
    """`per_chip` processes on each chip, sharing what the chip holds above its idle baseline."""
    rows = []
    for chip in chips:
        held = chip.hbm_used_mb if chip.hbm_used_mb is not None else chip.memory_used_mb or 0
        share = max(40, (held - 3400) // per_chip)
        for index in range(per_chip):
            rows.append(DeviceProcess(
                npu=chip.npu, chip=chip.chip, pid=rng.randint(1000, 3_999_999),
                container_pid=rng.choice([None, rng.randint(20, 9999)]) if container else None,
                name=rng.choice(WORKERS), memory_mb=share if index == 0 else rng.randint(40, 500),
            ))
    return rows


def a3_16_chips() -> tuple[str, DeviceSnapshot]:
    """Atlas 800I A3: 8 NPUs x 2 dies, a TP=16 vLLM job on every die, plus a stray process per card."""
    rng = random.Random(16)
    chips = []
    for npu in range(8):
        for die in (0, 1):
            chips.append(_chip(
                rng, npu, die, phy_id=2 * npu + die, name="Ascend910",
                power_w=None if die else rng.randint(1500, 3300) / 10,
                health="Warning" if (npu, die) == (5, 1) else "OK",
                hugepages_used=15 if npu == 3 else 0, hugepages_total=15 if npu == 3 else 0,
                bus_id=f"0000:{0x9D + 2 * npu + die:02X}:00.0",
            ))
    processes = _processes(rng, chips, 2)
    snapshot = DeviceSnapshot("npu-smi", "25.2.0", "25.2.0", tuple(chips), tuple(processes))
    return render(LAYOUTS["A3-98"], snapshot), snapshot


def b3_8_npus_with_warning() -> tuple[str, DeviceSnapshot]:
    """Atlas 800T A2 outside a container with an incomplete driver install: table, processes, `[WARNING]`."""
    rng = random.Random(8)
    chips = [_chip(rng, npu, 0, busy=npu < 4, health="Alarm" if npu == 6 else "OK") for npu in range(8)]
    busy = [chip for chip in chips if chip.npu in (0, 1, 2, 3)]
    processes = _processes(rng, busy, 1)
    snapshot = DeviceSnapshot(
        "npu-smi", "24.1.0", "24.1.0", tuple(chips), tuple(processes),
        warnings=("[WARNING]The driver package may not be completely installed, which may cause function "
                  "abnormal. Please reinstall it.",),
    )
    return render(LAYOUTS["910-98"], snapshot, warning=True), snapshot


def npu_950_four_cards() -> tuple[str, DeviceSnapshot]:
    """Ascend950PR: the `NPU ID | Name` layout, `NPU Util(%)`, no chip index; one wedged card at 100 %."""
    rng = random.Random(950)
    chips = [
        _chip(rng, npu, None, busy=npu != 3, name="Ascend950PR", health="Alarm" if npu == 2 else "OK",
              util_pct=100 if npu == 2 else 0 if npu == 3 else rng.randint(30, 90),
              hbm_total_mb=114688 if npu == 2 else 131072,
              hbm_used_mb=rng.randint(60000, 110000) if npu != 3 else 5413)
        for npu in (0, 1, 2, 3)
    ]
    processes = _processes(rng, [chip for chip in chips if chip.npu != 3], 1)
    snapshot = DeviceSnapshot("npu-smi", "25.7.rc1", "25.7.rc1", tuple(chips), tuple(processes))
    return render(LAYOUTS["950-99"], snapshot), snapshot


def duo_310p3() -> tuple[str, DeviceSnapshot]:
    """Two Atlas 300I Duo cards: two chips per card sharing one Bus-Id, power `NA`, DDR memory only."""
    rng = random.Random(310)
    chips = []
    for npu, bus in ((1, "0000:3B:00.0"), (2, "0000:86:00.0")):
        for chip in (0, 1):
            busy = (npu, chip) != (2, 1)
            chips.append(_chip(
                rng, npu, chip, busy=busy, name="310P3", power_w=None, bus_id=bus,
                memory_used_mb=rng.randint(20000, 40000) if busy else 1849,
                memory_total_mb=44280 if chip == 0 else 43693, hbm_used_mb=None, hbm_total_mb=None,
            ))
    processes = _processes(rng, chips[:3], 1)
    snapshot = DeviceSnapshot("npu-smi", "25.5.1", "25.5.1", tuple(chips), tuple(processes))
    return render(LAYOUTS["310P-106"], snapshot), snapshot


def wide_26x_container_pids() -> tuple[str, DeviceSnapshot]:
    """A 26.1.0 host: the 116-column layout and `Process id in container` (a PID or NA)."""
    rng = random.Random(26)
    chips = [_chip(rng, npu, 0, name="910B4", hbm_total_mb=32768, hbm_used_mb=rng.randint(20000, 31000))
             for npu in (4, 5)]
    processes = _processes(rng, chips, 2, container=True)
    snapshot = DeviceSnapshot("npu-smi", "26.1.0", "26.1.0", tuple(chips), tuple(processes))
    return render(LAYOUTS["910-116"], snapshot), snapshot


TABLES = {
    "A3_Ascend910_8npu-16chip_busy-procs_25.2.0": a3_16_chips,
    "910B3_8npu_procs_driver-warning_24.1.0": b3_8_npus_with_warning,
    "950PR_4npu_alarm_procs_25.7.rc1": npu_950_four_cards,
    "310P3_300I-Duo_2card-4chip_procs_25.5.1": duo_310p3,
    "910B4_2npu_wide-26.1.0_container-pids": wide_26x_container_pids,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, make in TABLES.items():
        text, snapshot = make()
        (OUT / f"{stem}.txt").write_text(text, encoding="utf-8")
        body = json.dumps(snapshot.to_json_dict(), indent=2) + "\n"
        (OUT / f"{stem}.json").write_text(body, encoding="utf-8")
        print(f"wrote {stem}: {len(snapshot.chips)} chips, {len(snapshot.processes)} processes")


if __name__ == "__main__":
    main()
