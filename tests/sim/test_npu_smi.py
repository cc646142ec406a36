"""The simulated `npu-smi`, run through the demo shim, against real 910B outputs."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sim.harness import pid_running, run_tool, wait_for
from tui.sim.demo import DemoHost
from tui.sim.host import ROLE_ENGINE_CORE, ServerRecord, live_records, servers_dir, write_record

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "npu-smi"
REAL_910B3 = SHARED / "001_910B3_8npu_24.1.rc1.b030.txt"  # a real field output; not copied into the repo

ROW1 = re.compile(r"^\| (\d+)\s+910B3\s+\| OK\s+\| (\d+\.\d)\s+(\d+)\s+0\s+/ 0\s+\|$")
ROW2 = re.compile(r"^\| 0\s+\| (0000:[0-9A-F]{2}:00\.0)\s+\| (\d+)\s+0\s+/ 0\s+(\d+)\s*/ (65536)\s+\|$")


def npu_smi(demo: DemoHost, *args: str) -> str:
    result = run_tool(demo, "npu-smi", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def hbm_used(table: str) -> dict[int, int]:
    """NPU id -> HBM used, read by pairing the two rows of each chip."""
    lines = table.splitlines()
    used = {}
    for first, second in itertools.pairwise(lines):
        top, bottom = ROW1.match(first), ROW2.match(second)
        if top and bottom:
            used[int(top.group(1))] = int(bottom.group(3))
    return used


def process_rows(table: str) -> list[tuple[int, int, str, int]]:
    rows = []
    section = table.split("Process memory(MB)", 1)[1]
    for line in section.splitlines():
        match = re.match(r"^\| (\d+)\s+(\d+)\s+\| (\d+)\s+\| (.{24}) \| (\d+)\s+\|$", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(3)), match.group(4).strip(), int(match.group(5))))
    return rows


def test_idle_table_has_the_real_910b_98_column_structure(demo: DemoHost) -> None:
    if not REAL_910B3.exists():
        pytest.skip("the shared field outputs (../shared/fixtures) are not beside this checkout")
    ours = npu_smi(demo, "info").splitlines()
    real = REAL_910B3.read_text().splitlines()
    assert {len(line) for line in ours} == {98}
    # Borders and both header rows are byte-identical to the real tool's; the version box
    # differs only in the version strings.
    assert ours[0] == real[0] and ours[2:6] == real[2:6]
    assert ours[1] == "| npu-smi 24.1.0                   Version: 24.1.0" + " " * 47 + "|"

    # Eight cards, two rows each, then `+===` after each: the same cell borders and the same
    # tokens in the same order as the real table, whatever the numbers are.
    def borders(lines: list[str]) -> list[list[int]]:
        return [[m.start() for m in re.finditer(r"[|+]", line)] for line in lines[6:30]]

    def tokens(lines: list[str]) -> list[str]:
        return [" ".join(re.sub(r"[0-9A-F.:]+", "9", line).split()) for line in lines[6:30]]

    assert borders(ours) == borders(real)
    assert tokens(ours) == tokens(real)
    assert sorted(hbm_used("\n".join(ours))) == list(range(8))
    assert all(3300 <= mb <= 3440 for mb in hbm_used("\n".join(ours)).values())


def test_process_table_is_the_real_layout(demo: DemoHost) -> None:
    ours = npu_smi(demo, "info").splitlines()
    header = ours.index(
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |"
    )
    assert ours[header - 1] == "+" + "-" * 27 + "+" + "-" * 15 + "+" + "-" * 52 + "+"
    idle_rows = [line for line in ours[header:] if "No running processes found in NPU" in line]
    assert idle_rows == [f"| No running processes found in NPU {n}".ljust(97) + "|" for n in range(8)]
    real_026 = SHARED / "026_910B4_8npu_32GB_noprocs_25.0.rc1.1.txt"
    if real_026.exists():  # the shared corpus is optional; the checks above stand alone
        real = real_026.read_text().splitlines()
        assert ours[header - 1 :] == real[real.index(ours[header]) - 1 :]


def test_hbm_and_process_table_follow_registered_processes(demo: DemoHost) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_record(
            demo.home,
            ServerRecord(
                pid=holder.pid,
                role=ROLE_ENGINE_CORE,
                chips=(2, 3),
                hbm_mb=29954 - 3314,
                util_pct=80,
                name="VLLM::EngineCore",
            ),
        )
        busy = npu_smi(demo, "info")
        used = hbm_used(busy)
        assert used[2] == 29954 and used[3] == 29954 and used[0] < 3500
        assert "29954/ 65536" in busy  # no space before "/" once the number has five digits
        assert process_rows(busy) == [
            (2, holder.pid, "VLLM::EngineCor", 26640),
            (3, holder.pid, "VLLM::EngineCor", 26640),
        ]
        power = {int(m.group(1)): float(m.group(2)) for m in map(ROW1.match, busy.splitlines()) if m}
        assert power[2] > power[0] + 100  # 80 % AI Core costs watts
    finally:
        holder.kill()
        holder.wait(timeout=10)
    idle = npu_smi(demo, "info")
    assert hbm_used(idle)[2] < 3500 and process_rows(idle) == []
    assert not list(servers_dir(demo.home).glob("*.json")), "the dead holder's record is cleaned up"


def test_temperature_lags_behind_utilization(demo: DemoHost) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        npu_smi(demo, "info")  # remember the idle temperatures
        write_record(
            demo.home,
            ServerRecord(pid=holder.pid, role=ROLE_ENGINE_CORE, chips=(0,), hbm_mb=100, util_pct=90),
        )
        temps = []
        for _ in range(2):
            table = npu_smi(demo, "info")
            temps.append(next(int(m.group(3)) for m in map(ROW1.match, table.splitlines()) if m))
            time.sleep(0.3)
        idle_temp, target = 43, 43 + 0.22 * 90
        assert idle_temp <= temps[0] <= temps[1] < target, temps
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_missing_sim_home_still_prints_an_idle_8_chip_table(demo: DemoHost, tmp_path: Path) -> None:
    result = run_tool(demo, "npu-smi", "info", env={"NPU_CONSOLE_SIM_HOME": str(tmp_path / "nowhere")})
    assert result.returncode == 0
    assert sorted(hbm_used(result.stdout)) == list(range(8))
    assert not (tmp_path / "nowhere").exists()


def test_chip_mapping_lists_every_chip_and_its_mcu(demo: DemoHost) -> None:
    lines = npu_smi(demo, "info", "-m").expandtabs(8).splitlines()
    assert lines[0].split() == ["NPU", "ID", "Chip", "ID", "Chip", "Logic", "ID", "Chip", "Name"]
    rows = [line.strip().split(maxsplit=3) for line in lines[1:]]
    assert rows[0] == ["0", "0", "0", "Ascend 910B3"] and rows[1] == ["0", "1", "-", "Mcu"]
    assert len(rows) == 16
    real = SHARED / "027_910B4_info-m_mapping-with-Mcu_tabs-as-spaces.txt"
    if real.exists():
        expected = real.read_text().replace("910B4", "910B3").splitlines()
        assert lines == expected


def test_usages_block_has_the_910b_keys(demo: DemoHost) -> None:
    text = npu_smi(demo, "info", "-t", "usages", "-i", "5")
    pairs = [line.strip().split(" : ", 1) for line in text.splitlines() if " : " in line]
    keys = [key.strip() for key, _ in pairs]
    assert keys[:2] == ["NPU ID", "Chip Count"] and keys[-1] == "Chip ID"
    assert dict((k.strip(), v) for k, v in pairs)["HBM Capacity(MB)"] == "65536"
    real = SHARED / "029_910B_info-t-usages-i0_25.5.1.txt"
    if real.exists():
        real_keys = [line.strip().split(" : ")[0].strip() for line in real.read_text().splitlines() if " : " in line]
        assert keys == real_keys


def test_unknown_commands_fail_like_npu_smi(demo: DemoHost) -> None:
    for argv in (("foo",), ("info", "-x"), ("info", "-t", "nonsense", "-i", "0")):
        result = run_tool(demo, "npu-smi", *argv)
        assert result.returncode != 0
        assert "Usage: npu-smi info" in result.stdout
    missing = run_tool(demo, "npu-smi", "info", "-t", "usages", "-i", "9")
    assert missing.returncode != 0 and "invalid" in missing.stdout


def test_records_of_dead_processes_are_ignored_and_removed(demo: DemoHost) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=10)
    write_record(demo.home, ServerRecord(pid=dead.pid, role=ROLE_ENGINE_CORE, chips=(0,), hbm_mb=5000))
    (servers_dir(demo.home) / "garbage.json").write_text("{not json")
    wait_for(lambda: not pid_running(dead.pid), what="the short process to be gone")
    assert live_records(demo.home) == []
    assert not (servers_dir(demo.home) / f"{dead.pid}.json").exists()
    assert (servers_dir(demo.home) / "garbage.json").exists(), "a file that is not a record is left alone"


def test_frozen_host_prints_the_same_table_every_time(demo: DemoHost) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_record(
            demo.home, ServerRecord(pid=holder.pid, role=ROLE_ENGINE_CORE, chips=(1,), hbm_mb=900, util_pct=55)
        )
        frozen = {"NPU_CONSOLE_SIM_FROZEN": "1"}
        first = run_tool(demo, "npu-smi", "info", env=frozen).stdout
        time.sleep(0.2)
        assert run_tool(demo, "npu-smi", "info", env=frozen).stdout == first
        assert hbm_used(first)[1] == 3314 + 900
    finally:
        holder.kill()
        holder.wait(timeout=10)
