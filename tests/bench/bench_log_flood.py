"""The console under a flood of log lines: keystroke latency and memory.

Run: `.venv/bin/python tests/bench/bench_log_flood.py [--lines 1000000] [--rate 20000]`

A writer process plays a server that logs `--rate` lines/s (vLLM-shaped lines:
access lines, stats lines, warnings) into its log, launched through the
console's own launcher, so the lines go through the whole path: the file, the
tail, the log-facts parser, the bounded window, the log pane. While it writes,
the benchmark presses 1–4 every 50 ms and times each key from the driver to
the next frame written with the area switched. It prints keystroke latency
(median, p99, worst, against 100 ms), the rate the console kept up with, and
the console's memory (RSS) before and after (the target: under 50 MB growth
over 1M lines).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.keystrokes import FrameClock, summary
from tui.app import make_app
from tui.devices.host import HostSampler
from tui.profile import load_profile, shipped_profiles_dir
from tui.server.launch_plan import LaunchPlan
from tui.startup.session import ConsoleSession

TARGET_MS = 100.0
WRITER = """
import sys, time
total, rate = int(sys.argv[1]), float(sys.argv[2])
lines = [
    '(APIServer pid=4242) INFO:     127.0.0.1:51234 - "POST /v1/completions HTTP/1.1" 200 OK',
    '(APIServer pid=4242) INFO 11-21 08:00:03 [loggers.py:127] Engine 000: Avg prompt throughput: 812.3 tokens/s, '
    'Avg generation throughput: 1203.9 tokens/s, Running: 31 reqs, Waiting: 2 reqs, GPU KV cache usage: 41.2%, '
    'Prefix cache hit rate: 12.5%',
    '(EngineCore pid=4250) WARNING 11-21 08:00:03 [scheduler.py:301] Sequence group 1234 is preempted by '
    'PreemptionMode.RECOMPUTE mode because there is not enough KV cache space.',
    '(APIServer pid=4242) INFO:     127.0.0.1:51236 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
]
batch = max(1, int(rate / 100))
start = time.monotonic()
written = 0
out = sys.stdout
while written < total:
    n = min(batch, total - written)
    out.write("\\n".join(lines[(written + i) % 4] for i in range(n)) + "\\n")
    out.flush()
    written += n
    ahead = written / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
"""


async def measure(total: int, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="npu-console-flood-") as tmp:
        folder = Path(tmp)
        writer = folder / "writer.py"
        writer.write_text(WRITER)
        session = ConsoleSession(profile=load_profile(shipped_profiles_dir() / "demo.toml"),
                                 runs_root=folder / "runs", env={"PATH": os.environ["PATH"], "HOME": tmp})
        app = make_app(session, host_sampler=HostSampler())
        clock = FrameClock(app)
        me = psutil.Process()
        areas = {"1": "devices", "2": "server", "3": "playground", "4": "stages"}
        latencies: list[float] = []
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.5)
            rss_before = me.memory_info().rss
            started = time.monotonic()
            flood = LaunchPlan("flood", None, str(writer), (sys.executable, str(writer), str(total), str(rate)),
                               {}, ())
            await app.server.launch(flood, os.environ, folder, "http://127.0.0.1:9", None)
            index = 0
            rss_peak = rss_before
            while app.server.status.state == "starting":
                key = "1234"[index % 4]
                index += 1
                latencies.append(await clock.press(key, lambda key=key: app.main.active_area == areas[key]))
                if index % 20 == 0:
                    rss_peak = max(rss_peak, me.memory_info().rss)
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            seen = app.server.window.total
            await pilot.pause(0.5)
            rss_after = me.memory_info().rss
        mb = 1024 * 1024
        print(f"{seen} lines in {elapsed:.1f} s = {seen / elapsed:,.0f} lines/s through the console "
              f"(writer asked for {rate:,.0f}/s)")
        print(f"keystroke to frame during the flood: {summary(latencies, TARGET_MS)}")
        print(f"console memory: {rss_before / mb:.0f} MB before, peak {rss_peak / mb:.0f} MB, "
              f"{rss_after / mb:.0f} MB after — growth {(rss_after - rss_before) / mb:.1f} MB (target < 50 MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20_000)
    args = parser.parse_args()
    asyncio.run(measure(args.lines, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
