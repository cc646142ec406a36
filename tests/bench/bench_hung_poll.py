"""Keystroke latency while `npu-smi` hangs: the console must not notice.

Run: `.venv/bin/python tests/bench/bench_hung_poll.py [--hang 30]`

The console runs headless (Pilot) with an `npu-smi` on PATH that answers once
and then hangs for `--hang` seconds on every later call. While the read hangs,
the benchmark presses 1–4 every 50 ms and times each key from the moment the
terminal driver hands it over until the next frame is written out with the
area switched (the app's display call, wrapped for the measurement; Pilot's own
`press` waits for the process to go idle and would time its heuristics).

It does the same first, for as long, with an `npu-smi` that always answers (the
baseline), and prints median, p99 and worst latency of both, their ratios (a
hang that delays nothing gives ratios near 1), the number of reads that ran at
once during the hang (must be 1), and the worst latency against 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.keystrokes import FrameClock, p99, summary
from tui.app import make_app
from tui.devices.host import HostSampler
from tui.profile import load_profile, shipped_profiles_dir
from tui.startup.session import ConsoleSession

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "npu-smi" / "910B3_8npu_procs_driver-warning_24.1.0.txt"
TARGET_MS = 100.0


def fake_tool(folder: Path, hang_s: float) -> Path:
    """npu-smi that answers the first call and hangs `hang_s` on each later one (0: never hangs)."""
    tool = folder / "npu-smi"
    marker = folder / "answered"
    tool.write_text(
        f"#!{sys.executable}\nimport os, sys, time\n"
        "if '-m' in sys.argv: sys.exit(0)\n"
        f"if {hang_s} and os.path.exists({str(marker)!r}): time.sleep({hang_s})\n"
        f"open({str(marker)!r}, 'w').close()\n"
        f"sys.stdout.write(open({str(FIXTURE)!r}).read())\n"
    )
    tool.chmod(0o755)
    return tool


def running_reads(tool: Path) -> int:
    return sum(1 for p in psutil.process_iter(["cmdline"]) if str(tool) in (p.info.get("cmdline") or []))


async def measure(hang_s: float, duration_s: float) -> tuple[list[float], int]:
    """Keystroke latencies (ms) over `duration_s`, and the most device reads seen running at once."""
    with tempfile.TemporaryDirectory(prefix="npu-console-hang-") as tmp:
        folder = Path(tmp)
        tool = fake_tool(folder, hang_s)
        env = {"PATH": f"{folder}:{os.environ['PATH']}", "HOME": tmp}
        session = ConsoleSession(profile=load_profile(shipped_profiles_dir() / "demo.toml"),
                                 runs_root=folder / "runs", env=env)
        app = make_app(session, host_sampler=HostSampler(), device_interval_s=0.1, device_timeout_s=hang_s + 5)
        latencies: list[float] = []
        most_at_once = 0
        areas = {"1": "devices", "2": "server", "3": "playground", "4": "stages"}
        clock = FrameClock(app)
        async with app.run_test(size=(80, 24)) as pilot:
            while not (folder / "answered").exists() or (hang_s and not app.devices.reading):
                await pilot.pause(0.05)
            started = time.monotonic()
            index = 0
            while time.monotonic() - started < duration_s:
                key = "1234"[index % 4]
                index += 1
                latencies.append(await clock.press(key, lambda key=key: app.main.active_area == areas[key]))
                if index % 10 == 0:
                    most_at_once = max(most_at_once, running_reads(tool))
                await asyncio.sleep(0.05)
            if hang_s:
                assert app.devices.reading, "the read should still be hanging"
        return latencies, most_at_once


def report(name: str, latencies: list[float]) -> float:
    print(f"{name}: {summary(latencies, TARGET_MS)}")
    return max(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hang", type=float, default=30.0, help="seconds each later npu-smi call hangs")
    args = parser.parse_args()
    baseline, _ = asyncio.run(measure(0, duration_s=args.hang - 2))
    hung, at_once = asyncio.run(measure(args.hang, duration_s=args.hang - 2))
    report("npu-smi answering (baseline)", baseline)
    worst = report(f"npu-smi hung {args.hang:.0f} s", hung)
    print(f"hung/baseline: median {statistics.median(hung) / statistics.median(baseline):.2f}, "
          f"p99 {p99(hung) / p99(baseline):.2f}; worst keystroke during the hang {worst:.1f} ms "
          f"= {worst / TARGET_MS:.2f} x {TARGET_MS:.0f} ms")
    print(f"device reads running at once during the hang: at most {at_once} (must be 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
