"""A long streamed reply in the playground: keystroke latency while it renders, and the repaint rate.

Run: `.venv/bin/python tests/bench/bench_playground_stream.py [--tokens 4000] [--rate 200]`

The simulated vLLM server streams a `--tokens` reply at `--rate` tokens/s (ignore_eos,
so the length is exact) into the real console; meanwhile the benchmark types a
character into the prompt box every 50 ms and times each from the terminal
driver to the frame that shows it. It prints keystroke latency (median, p99,
worst, against 50 ms), how many times the reply was redrawn per second (target
~30 at most), the tokens received and the reply's own TTFT and tokens/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from textual.widgets import Input

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.keystrokes import FrameClock, summary
from tests.sim.harness import SimServer
from tui.app import make_app
from tui.devices.host import HostSampler
from tui.profile import load_profile, shipped_profiles_dir
from tui.sim.demo import prepare_demo_host
from tui.startup.session import ConsoleSession
from widgets.chat_turn import ChatTurn
from widgets.playground_view import PlaygroundView

TARGET_MS = 50.0


async def measure(tokens: int, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="npu-console-stream-") as tmp:
        folder = Path(tmp)
        host = prepare_demo_host(folder / "sim")
        server = SimServer(host, folder / "server.log").start(
            env={"NPU_CONSOLE_SIM_TPOT_MS": str(1000 / rate), "NPU_CONSOLE_SIM_TTFT_MS": "20"})
        try:
            server.wait_ready()
            profile = load_profile(shipped_profiles_dir() / "demo.toml")
            profile = replace(profile, server=replace(profile.server, port=server.port, served_model_name=None))
            session = ConsoleSession(profile=profile, runs_root=folder / "runs", env=host.env(dict(os.environ)))
            app = make_app(session, host_sampler=HostSampler())
            app.playground.sampling = replace(app.playground.sampling, max_tokens=tokens,
                                              extra={"ignore_eos": True, "min_tokens": tokens})
            redraws = 0
            update = PlaygroundView.update_turn

            def counted(view: PlaygroundView, turn: ChatTurn, answer: str, reasoning: str) -> None:
                nonlocal redraws
                redraws += 1
                update(view, turn, answer, reasoning)

            PlaygroundView.update_turn = counted  # type: ignore[method-assign]
            clock = FrameClock(app)
            latencies: list[float] = []
            async with app.run_test(size=(160, 45)) as pilot:
                await pilot.press("3")
                app.post_message(PlaygroundView.SendPrompt("Tell me everything."))
                deadline = time.monotonic() + 30
                while not app.main.query(ChatTurn) or not app.main.query(ChatTurn).first().answer_text:
                    if time.monotonic() > deadline:
                        shown = [str(t.query_one(".stats").content) for t in app.main.query(ChatTurn)]  # type: ignore[attr-defined]
                        raise TimeoutError(f"no reply text within 30 s; turns: {shown}")
                    await pilot.pause(0.01)
                box = app.main.query_one("#prompt", Input)
                box.focus()
                await pilot.pause()
                started = time.monotonic()
                typed = 0
                while any(w.group == "playground-reply" and w.is_running for w in app.workers):
                    typed += 1
                    latencies.append(await clock.press("a", lambda typed=typed: len(box.value) >= typed))
                    await asyncio.sleep(0.05)
                elapsed = time.monotonic() - started
                turn = app.main.query(ChatTurn).first()
                stats = str(turn.query_one(".stats").content)  # type: ignore[attr-defined]
        finally:
            PlaygroundView.update_turn = update  # type: ignore[method-assign]
            server.kill()
        print(f"reply: {stats}")
        print(f"keystroke to frame while streaming: {summary(latencies, TARGET_MS)}")
        print(f"reply redrawn {redraws} times in {elapsed:.1f} s = {redraws / elapsed:.1f} per second (target ≤ ~30)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    asyncio.run(measure(args.tokens, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
