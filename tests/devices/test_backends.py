"""Backends against real processes: fake `npu-smi` / `nvidia-smi` scripts in a temporary folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.devices.fake_tools import NPU_TABLE, NVIDIA, fake_npu_smi, fake_nvidia_smi, script
from tui.devices import locate
from tui.devices.backends import (
    NpuSmiBackend,
    NvidiaSmiBackend,
    ReplayBackend,
    pick_backend,
)
from tui.processes.commands import SubprocessRunner


async def test_npu_smi_backend_reads_the_table_under_lc_all_c_and_the_mapping_once(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    backend = NpuSmiBackend(str(fake_npu_smi(tmp_path / "bin", log)))
    runner = SubprocessRunner()
    first = await backend.read(runner, timeout=10)
    second = await backend.read(runner, timeout=10)
    assert first.error is None and len(first.chips) == 16 and len(first.processes) == 32
    assert len(first.mapping) == 4 and second.mapping == first.mapping
    assert log.read_text().splitlines() == ["info LC_ALL=C", "info -m LC_ALL=C", "info LC_ALL=C"]


async def test_the_mapping_is_read_again_every_so_many_reads(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    backend = NpuSmiBackend(str(fake_npu_smi(tmp_path / "bin", log)), mapping_every=2)
    for _ in range(3):
        await backend.read(SubprocessRunner(), timeout=10)
    assert [line.split(" LC")[0] for line in log.read_text().splitlines()] == [
        "info", "info -m", "info", "info", "info -m",
    ]


async def test_a_hung_npu_smi_becomes_an_error_snapshot_within_the_bound(tmp_path: Path) -> None:
    hung = script(tmp_path / "bin", "npu-smi", "echo 'Initialize SchedulerClient...'\nexec sleep 600\n")
    # The tool sleeps 600 s: only the 1 s bound ends the read before the 60 s hang guard.
    snapshot = await asyncio.wait_for(NpuSmiBackend(str(hung)).read(SubprocessRunner(), timeout=1.0), 60)
    assert snapshot.chips == () and snapshot.backend == "npu-smi"
    assert snapshot.error is not None and "did not answer within 1 s" in snapshot.error


async def test_a_failing_npu_smi_gives_its_own_error_line(tmp_path: Path) -> None:
    failing = script(tmp_path / "bin", "npu-smi", (
        "echo 'DrvMngGetConsoleLogLevel failed. (g_conLogLevel=3)'\n"
        "echo 'dcmi module initialize failed. ret is -8005' >&2\nexit 255\n"
    ))
    snapshot = await NpuSmiBackend(str(failing)).read(SubprocessRunner(), timeout=10)
    assert snapshot.error == "dcmi module initialize failed. ret is -8005"
    assert snapshot.warnings == ("DrvMngGetConsoleLogLevel failed. (g_conLogLevel=3)",)


async def test_an_unexplained_non_zero_exit_still_becomes_a_sentence(tmp_path: Path) -> None:
    odd = script(tmp_path / "bin", "npu-smi", "echo 'Segmentation fault (core dumped)' >&2\nexit 139\n")
    snapshot = await NpuSmiBackend(str(odd)).read(SubprocessRunner(), timeout=10)
    assert snapshot.error == "npu-smi exited with status 139: Segmentation fault (core dumped)"


async def test_a_missing_tool_is_an_error_snapshot_not_an_exception(tmp_path: Path) -> None:
    snapshot = await NpuSmiBackend(str(tmp_path / "gone" / "npu-smi")).read(SubprocessRunner(), timeout=5)
    assert snapshot.error is not None and "command not found" in snapshot.error


async def test_a_failing_mapping_is_a_warning_and_is_retried(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    flaky = script(tmp_path / "bin", "npu-smi", (
        f'echo "$*" >> "{log}"\n'
        'if [ "$2" = "-m" ]; then echo "The parameter is invalid."; exit 1; fi\n'
        f'cat "{NPU_TABLE}"\n'
    ))
    backend = NpuSmiBackend(str(flaky))
    first = await backend.read(SubprocessRunner(), timeout=10)
    await backend.read(SubprocessRunner(), timeout=10)
    assert first.error is None and first.mapping == ()
    assert first.warnings == ("npu-smi info -m failed: The parameter is invalid.",)
    assert log.read_text().splitlines() == ["info", "info -m", "info", "info -m"]


async def test_nvidia_smi_backend_runs_both_queries(tmp_path: Path) -> None:
    snapshot = await NvidiaSmiBackend(str(fake_nvidia_smi(tmp_path / "bin"))).read(SubprocessRunner(), 10)
    assert snapshot.error is None and len(snapshot.chips) == 8 and len(snapshot.processes) == 5


async def test_nvidia_smi_without_a_driver_is_the_error(tmp_path: Path) -> None:
    broken = script(tmp_path / "bin", "nvidia-smi", (
        f'cat "{NVIDIA / "error_driver-not-loaded.txt"}"\nexit 9\n'
    ))
    snapshot = await NvidiaSmiBackend(str(broken)).read(SubprocessRunner(), 10)
    assert snapshot.error is not None and snapshot.error.startswith("NVIDIA-SMI has failed")


async def test_replay_cycles_through_files_and_detects_each_tool(tmp_path: Path) -> None:
    files = [NPU_TABLE, NVIDIA / "replay_h100_2gpu_gpus-then-apps.csv", tmp_path / "missing.txt"]
    backend = ReplayBackend(files)
    runner = SubprocessRunner()
    reads = [await backend.read(runner, timeout=5) for _ in range(4)]
    assert [(r.backend, len(r.chips)) for r in reads] == [
        ("npu-smi", 16), ("nvidia-smi", 2), ("replay", 0), ("npu-smi", 16),
    ]
    assert reads[2].error is not None and "missing.txt" in reads[2].error


@pytest.fixture
def only_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look for the tools on the given PATH only, not in this machine's driver folders."""
    monkeypatch.setattr(locate, "find_executable", lambda name, env, dirs=(): _on_path(name, env))


def _on_path(name: str, env: object) -> str | None:
    import shutil

    return shutil.which(name, path=dict(env or {}).get("PATH", ""))  # type: ignore[call-overload]


@pytest.mark.usefixtures("only_path")
def test_pick_backend_prefers_npu_smi_then_nvidia_smi(tmp_path: Path) -> None:
    both, nvidia_only, empty = tmp_path / "both", tmp_path / "nvidia", tmp_path / "empty"
    fake_npu_smi(both, tmp_path / "log")
    fake_nvidia_smi(both)
    fake_nvidia_smi(nvidia_only)
    empty.mkdir()
    assert isinstance(pick_backend("auto", {"PATH": str(both)}), NpuSmiBackend)
    assert isinstance(pick_backend("auto", {"PATH": str(nvidia_only)}), NvidiaSmiBackend)
    assert isinstance(pick_backend("nvidia", {"PATH": str(both)}), NvidiaSmiBackend)
    assert pick_backend("auto", {"PATH": str(empty)}) == locate.not_found_sentence()
    assert "npu-smi was not found" in str(pick_backend("npu", {"PATH": str(nvidia_only)}))
    assert isinstance(pick_backend("replay", {}, files=[NPU_TABLE]), ReplayBackend)
    assert "--file" in str(pick_backend("replay", {}))
    assert "Unknown device backend" in str(pick_backend("rocm", {}))
