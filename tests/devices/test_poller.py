"""The poller against real subprocesses: a fake npu-smi that answers, fails, or hangs."""

from __future__ import annotations

import sys
from pathlib import Path

from tui.clock import SystemClock
from tui.devices.backends import NpuSmiBackend
from tui.devices.poller import DevicePoller
from tui.processes.commands import SubprocessRunner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "npu-smi"
TABLE = FIXTURES / "910B3_8npu_procs_driver-warning_24.1.0.txt"


def fake_npu_smi(tmp_path: Path, mode_file: Path) -> Path:
    """An executable `npu-smi` whose behaviour the test switches by writing `mode_file`."""
    tool = tmp_path / "npu-smi"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"mode = open({str(mode_file)!r}).read().strip()\n"
        "if mode == 'hang':\n    time.sleep(60)\n"
        "if mode == 'fail':\n    print('dcmi module initialize failed. ret is -8005'); sys.exit(255)\n"
        "if '-m' in sys.argv:\n    sys.exit(0)\n"
        f"sys.stdout.write(open({str(TABLE)!r}).read())\n"
    )
    tool.chmod(0o755)
    return tool


async def test_good_read_then_failures_keep_the_last_snapshot_and_back_off(tmp_path: Path) -> None:
    mode = tmp_path / "mode"
    mode.write_text("ok")
    poller = DevicePoller(NpuSmiBackend(str(fake_npu_smi(tmp_path, mode))), SubprocessRunner(), SystemClock(),
                          interval_s=2.0, timeout_s=1.0, max_backoff_s=30.0)
    good = await poller.poll_once()
    assert good.error is None and good.snapshot is not None and len(good.snapshot.chips) == 8
    assert poller.next_delay() == 2.0
    first_hbm = good.history[(0, 0)].hbm_used_mb
    assert len(first_hbm) == 1 and first_hbm[0] is not None

    mode.write_text("fail")
    failed = await poller.poll_once()
    assert failed.snapshot is good.snapshot, "a failed read keeps the last good snapshot on screen"
    assert failed.error is not None and "-8005" in failed.error
    assert failed.failures == 1 and poller.next_delay() == 4.0

    mode.write_text("hang")
    hung = await poller.poll_once()
    assert hung.failures == 2 and poller.next_delay() == 8.0
    assert hung.error is not None and "did not answer within 1 s" in hung.error
    assert hung.duration_s is not None and hung.duration_s < 5
    assert hung.is_stale(SystemClock().monotonic(), 2.0)

    mode.write_text("ok")
    recovered = await poller.poll_once()
    assert recovered.error is None and recovered.failures == 0 and poller.next_delay() == 2.0
    assert len(recovered.history[(0, 0)].hbm_used_mb) == 2


async def test_backoff_is_capped(tmp_path: Path) -> None:
    mode = tmp_path / "mode"
    mode.write_text("fail")
    poller = DevicePoller(NpuSmiBackend(str(fake_npu_smi(tmp_path, mode))), SubprocessRunner(), SystemClock(),
                          interval_s=2.0, timeout_s=5.0, max_backoff_s=10.0)
    for _ in range(5):
        await poller.poll_once()
    assert poller.next_delay() == 10.0


async def test_history_is_bounded(tmp_path: Path) -> None:
    mode = tmp_path / "mode"
    mode.write_text("ok")
    poller = DevicePoller(NpuSmiBackend(str(fake_npu_smi(tmp_path, mode))), SubprocessRunner(), SystemClock(),
                          history_len=3)
    for _ in range(5):
        state = await poller.poll_once()
    assert len(state.history[(0, 0)].util_pct) == 3
