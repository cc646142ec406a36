"""The result says when it was measured cold (the server had served nothing) and when replies came in one burst."""

from __future__ import annotations

from collections.abc import Callable

from tests.sim.harness import SimServer
from tests.stages.bench.conftest import stage_args
from tui.stages.bench.report import format_summary
from tui.stages.bench.stage import run_benchmark


async def test_a_fresh_server_is_measured_cold_until_warmed_up(own_bench_sim: Callable[[], SimServer]) -> None:
    server = own_bench_sim()
    serve = ("serve", "--url", server.url, "--num-prompts", "4", "--random-input-len", "16",
             "--random-output-len", "4")
    cold = await run_benchmark(stage_args(*serve), "serve")
    assert cold["cold_start"] is True and cold["server_requests_before"] == 0 and cold["warmup_requests"] == 0
    assert any(note.startswith("measured cold: the server had served no request before this run") and
               "pass --warmup N" in note for note in cold["notes"])
    assert "note: measured cold" in format_summary(cold)
    warm = await run_benchmark(stage_args(*serve, "--warmup", "2"), "serve")
    assert warm["cold_start"] is False and warm["server_requests_before"] == 4 + 2
    assert warm["warmup_requests"] == 2 and not any(note.startswith("measured cold") for note in warm["notes"])


async def test_replies_that_arrive_whole_are_flagged(scripted_server: str) -> None:
    # the scripted server writes each reply in one piece: first and last chunk in the same read
    result = await run_benchmark(stage_args("concurrency", "--url", scripted_server, "--requests", "4",
                                            "--concurrency", "1"), "concurrency")
    assert result["completed"] == 2 and result["burst_replies"] == 2
    assert result["cold_start"] is None  # no /metrics: it cannot say, and does not guess
    (note,) = result["notes"]
    assert note.startswith("2 of 2 replies arrived in one burst (TTFT = E2EL)")


async def test_a_streamed_reply_is_no_burst(timed_url: str) -> None:
    result = await run_benchmark(stage_args("latency", "--url", timed_url, "--runs", "2", "--max-tokens", "5"),
                                 "latency")
    assert result["burst_replies"] == 0 and not any("burst" in note for note in result["notes"])
