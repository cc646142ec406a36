"""Launching the real vLLM through a profile, the way an operator does: `npu-console serve` and the app's keys.

Each test here launches (and stops) its own server, because the launch is what it tests; the attach test
uses the session's shared server, which the test harness started itself.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from rich.console import Console
from textual.widgets import Checkbox, Input, Static

from tests.real_vllm import console, engine
from tests.sim.harness import free_port
from tests.ui.helpers import FixedHost, capture_notes, confirm, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.profile import load_profile
from tui.screens.attach import AttachScreen
from tui.screens.preflight import PreflightScreen
from tui.server.serving_metrics import ServingMetrics
from tui.startup.session import ConsoleSession

PHASE = re.compile(r"^\[\s*(\d+\.\d) s\] phase: (.+)$")


def test_serve_cli_launches_through_a_profile_and_ctrl_c_leaves_no_process(tiny_qwen2: Path, tmp_path: Path) -> None:
    port = free_port()
    profile = console.write_profile(tmp_path / "tiny-real.toml", tiny_qwen2, port)
    runs = tmp_path / "runs"
    with console.console_cli("serve", "--profile", str(profile), "--runs-dir", str(runs),
                             env=dict(os.environ)) as (process, out):
        printed = out.until("Ready: the API answers")
        # Ready means the API answers: asked at once, it does.
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10)
        assert models.status_code == 200 and models.json()["data"][0]["id"] == "tiny"

        checklist = printed[printed.index("Preflight for tiny-real (eager)"):]
        assert not any(line.lstrip().startswith("✘") for line in checklist), checklist
        assert any(line.startswith("  ✔ Port") for line in checklist), checklist
        assert any("Engine flags" in line and "vLLM 0.32.0" in line for line in checklist), checklist
        phases = [PHASE.match(line) for line in printed]
        named = [match.group(2) for match in phases if match]
        assert {"weights loading", "weights loaded", "api listening"} <= set(named), printed
        assert [float(m.group(1)) for m in phases if m] == sorted(float(m.group(1)) for m in phases if m)
        assert "  architecture = Qwen2ForCausalLM" in printed
        assert "  max_model_len = 1024" in printed
        assert "  dtype = bfloat16" in printed
        assert any(line.startswith("Launching: vllm serve ") and "--enforce-eager" in line for line in printed)

        processes = console.engine_tree(process.pid)
        server = [p for p in processes if p.pid != process.pid]
        assert len(server) >= 4, console.describe(processes)  # API server, resource tracker, EngineCore, Worker

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, "\n".join(out.rest())
        rest = out.rest()
        assert any(re.fullmatch(r"Stopped \d+ process\(es\)\.", line) for line in rest), rest
        assert console.wait_gone(server, timeout=10) == [], "the whole tree is gone, the resource tracker too"

    (run_dir,) = (runs / "tiny-real").iterdir()
    log = (run_dir / "server.log").read_text(errors="replace")
    assert "Application startup complete." in log and "Resolved architecture: Qwen2ForCausalLM" in log
    facts = json.loads((run_dir / "facts.json").read_text())
    assert json.dumps(facts).count("Qwen2ForCausalLM") >= 1
    launch = json.loads((run_dir / "launch.json").read_text())
    assert launch["argv"][:3] == ["vllm", "serve", str(tiny_qwen2)] and "--enforce-eager" in launch["argv"]
    assert launch["env_overrides"]["VLLM_TARGET_DEVICE"] == "cpu"


# ---- the app ---------------------------------------------------------------------------------------------


def plain(app: NpuConsoleApp, selector: str) -> str:
    out = Console(width=160, record=True, file=io.StringIO())
    out.print(app.main.query_one(selector, Static).content)
    return out.export_text()


def real_console(tmp_path: Path, profile_path: Path) -> NpuConsoleApp:
    session = ConsoleSession(profile=load_profile(profile_path), runs_root=tmp_path / "runs", env=dict(os.environ),
                             variant="eager")
    return make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)


def metric_row(panel: str, label: str) -> str:
    """The value the live metrics ("Serving now") show for `label`: "N/A" when not known, "" when not shown."""
    _, _, serving = panel.partition("Serving now\n")
    for line in serving.split("\n\n", 1)[0].splitlines():
        match = re.match(rf"{re.escape(label)}\s+(N/A|[\d.]+(?: %| ms)?)\s", line + " ")
        if match:
            return match.group(1)
    return ""


@pytest.fixture
def load() -> Iterator[list[str]]:
    """Requests sent in the background to the URLs put in the list, until the test ends."""
    urls: list[str] = []
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                for url in list(urls):
                    try:
                        client.post(f"{url}/v1/completions", json={
                            "model": "tiny", "prompt": "The capital of France is", "max_tokens": 16, "temperature": 0})
                    except httpx.HTTPError:
                        pass
                stop.wait(0.2)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    yield urls
    stop.set()
    sender.join(timeout=40)


async def launch_ready(app: NpuConsoleApp, pilot: Any) -> list[psutil.Process]:
    """`l` (or `R`), the preflight confirmed, ready once the API answers; the server's tree."""
    await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), timeout=engine.START_TIMEOUT_S,
                     what="the preflight checklist")
    checklist = "\n".join(str(static.content) for static in app.screen.query(Static))
    assert "✘" not in checklist, checklist
    await pilot.press("enter")  # "Launch" has the focus when nothing failed
    await wait_until(pilot, lambda: app.server.status.state in ("ready", "failed"), timeout=engine.START_TIMEOUT_S,
                     what="the server ready")
    assert app.server.status.state == "ready", app.server.status.detail
    assert app.server.status.detail is None, "the API answered: ready by the API, not only by the log line"
    pid = app.server.status.pid
    assert pid is not None
    return await asyncio.to_thread(console.engine_tree, pid)


async def test_app_launches_reads_live_metrics_restarts_and_stops_clean(
    tiny_qwen2: Path, tmp_path: Path, load: list[str]
) -> None:
    port = free_port()
    app = real_console(tmp_path, console.write_profile(tmp_path / "tiny-real.toml", tiny_qwen2, port))
    notes = capture_notes(app)
    url = f"http://127.0.0.1:{port}"
    async with app.run_test(size=(200, 50)) as pilot:
        try:
            await pilot.press("l")
            first = await launch_ready(app, pilot)
            await wait_until(pilot, lambda: "Qwen2ForCausalLM" in plain(app, "#server-facts"), what="the facts")
            facts = plain(app, "#server-facts")
            assert "1024" in facts and "eager" in facts
            # The live panel reads this vLLM's own /metrics names: counters move while requests run.
            load.append(url)
            await wait_until(pilot, lambda: metric_row(plain(app, "#server-facts"), "Gen tok/s") not in ("", "N/A")
                             and float(metric_row(plain(app, "#server-facts"), "Gen tok/s")) > 0,
                             timeout=120, what="generation tokens/s from /metrics")
            await wait_until(pilot, lambda: metric_row(plain(app, "#server-facts"), "Mean TTFT").endswith(" ms"),
                             timeout=120, what="the mean TTFT from /metrics")
            panel = plain(app, "#server-facts")
            assert metric_row(panel, "KV cache").endswith(" %"), panel
            assert metric_row(panel, "Running") not in ("", "N/A"), panel
            load.clear()

            await pilot.press("R")  # restart: the whole tree stops, then preflight and a new launch
            second = await launch_ready(app, pilot)
            assert await asyncio.to_thread(console.wait_gone, first, 10) == [], "the first server's tree is gone"
            assert {p.pid for p in second}.isdisjoint(p.pid for p in first)
            async with httpx.AsyncClient(timeout=10) as client:
                assert (await client.get(f"{url}/v1/models")).status_code == 200

            await pilot.press("s")
            await confirm(pilot)
            await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=120, what="the stop")
            assert await asyncio.to_thread(console.wait_gone, second, 10) == [], "the whole tree, resource tracker too"
            assert app.session.launched_pids == ()
            await wait_until(pilot, lambda: any("Stopped the server's" in note for note in notes), what="the note")
        finally:
            await app.server.stop()
    run_dir = app.session.run_dir
    assert run_dir is not None
    assert (run_dir / "server.log").read_text(errors="replace").count("Application startup complete.") >= 1


async def test_attach_by_url_and_by_log_file_never_stops_the_server(
    vllm_server: engine.Engine, tmp_path: Path, load: list[str]
) -> None:
    profile = console.write_profile(tmp_path / "tiny-real.toml", vllm_server.model_dir, free_port())
    app = real_console(tmp_path, profile)
    load.append(vllm_server.url)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("a")  # by URL: the live metrics, no log
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the attach dialog")
        app.screen.query_one("#log-path", Input).value = ""
        app.screen.query_one("#url", Input).value = vllm_server.url
        await pilot.click("#attach")
        await wait_until(pilot, lambda: app.server.status.state == "attached", what="attached by URL")
        await wait_until(pilot, lambda: metric_row(plain(app, "#server-facts"), "Gen tok/s") not in ("", "N/A"),
                         timeout=120, what="the attached server's metrics")
        assert "attached" in plain(app, "#header")
        await pilot.press("s")  # stopping an attached server only detaches
        await wait_until(pilot, lambda: app.server.status.state == "not started", what="detached")

        await pilot.press("a")  # by log file: the facts the log stated, from its start
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the attach dialog")
        app.screen.query_one("#log-path", Input).value = str(vllm_server.log_path)
        app.screen.query_one("#url", Input).value = ""
        app.screen.query_one("#start", Checkbox).value = True
        await pilot.click("#attach")
        await wait_until(pilot, lambda: app.server.status.state == "attached", what="attached by log")
        await wait_until(pilot, lambda: "Qwen2ForCausalLM" in plain(app, "#server-facts"), timeout=60,
                         what="the facts from the log")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.server.status.state == "not started", what="detached")
    assert psutil.pid_exists(vllm_server.pid)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{vllm_server.url}/v1/models")).status_code == 200, "attaching never stops it"


def test_metrics_names_of_this_vllm_are_the_ones_the_console_reads(vllm_server: engine.Engine) -> None:
    httpx.post(f"{vllm_server.url}/v1/completions", json={"model": "tiny", "prompt": "Hello", "max_tokens": 4},
               timeout=120).raise_for_status()
    metrics = ServingMetrics.from_text(httpx.get(f"{vllm_server.url}/metrics", timeout=10).text)
    known = {name: getattr(metrics, name) for name in (
        "running", "waiting", "kv_cache_usage", "prompt_tokens_total", "generation_tokens_total",
        "request_success_total", "preemptions_total", "prefix_cache_queries_total", "prefix_cache_hits_total",
        "ttft_sum", "ttft_count", "e2e_sum", "e2e_count")}
    assert None not in known.values(), f"not read from this vLLM's /metrics: {known}"
    assert metrics.model_names == ("tiny",) and metrics.engines == 1
    assert known["generation_tokens_total"] >= 4 and known["request_success_total"] >= 1
