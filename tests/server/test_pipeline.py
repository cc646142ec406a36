"""The headless server pipeline on the simulated host: launch, readiness, evidence, stop, attach, reset."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from tests.sim.harness import INSTANT, SimServer, free_port, pid_running
from tui.profile import load_profile, shipped_profiles_dir
from tui.redact import MASK
from tui.server.launch_plan import LaunchPlan, launch_plan
from tui.server.log_window import LogLine
from tui.server.pipeline import PipelineListener, ServerPipeline
from tui.server.pipeline_evidence import EvidenceError, RunEvidence, redacted_argv, redacted_env
from tui.server.pipeline_parse import FactsView
from tui.server.serving_metrics import ServingMetrics
from tui.server.status import ServerStatus
from tui.sim.demo import DemoHost, prepare_demo_host

BOUND_S = 60.0  # generous: the suite must pass on a busy machine


async def _eventually(condition: Callable[[], bool], bound_s: float = BOUND_S) -> None:
    """Let the loop run until `condition()` holds (a state, not a time); fail after the generous bound."""
    deadline = asyncio.get_running_loop().time() + bound_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not hold within the bound"
        await asyncio.sleep(0.02)


class Heard(PipelineListener):
    """Everything the pipeline told its listener, in order."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self.lines: list[LogLine] = []
        self.views: list[FactsView] = []
        self.problems: list[str] = []
        self.scrapes = 0
        self.two_scrapes = asyncio.Event()

    def status_changed(self, status: ServerStatus) -> None:
        self.states.append(status.state)

    def lines_arrived(self, lines: tuple[LogLine, ...], total: int) -> None:
        self.lines.extend(lines)

    def facts_changed(self, view: FactsView) -> None:
        self.views.append(view)

    def problem(self, sentence: str) -> None:
        self.problems.append(sentence)

    def metrics_read(self, result: ServingMetrics | str, at: float) -> None:
        self.scrapes += isinstance(result, ServingMetrics)
        if self.scrapes >= 2:
            self.two_scrapes.set()


@pytest.fixture
def demo(tmp_path: Path) -> DemoHost:
    return prepare_demo_host(tmp_path / "sim")


def demo_plan(demo: DemoHost, env: dict[str, str], variant: str = "eager") -> tuple[LaunchPlan, str]:
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    port = free_port()
    profile = replace(profile, server=replace(profile.server, port=port))
    return launch_plan(profile, variant, env), profile.base_url


@pytest.fixture
async def pipeline() -> AsyncIterator[tuple[ServerPipeline, Heard]]:
    heard = Heard()
    pipe = ServerPipeline(heard, metrics_interval_s=0.2)
    yield pipe, heard
    if pipe.server is not None and pipe.server.running:
        await pipe.stop()
    await pipe.close()


def tree_of(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


async def test_a_launch_is_ready_when_the_api_answers_and_leaves_its_evidence(
    demo: DemoHost, tmp_path: Path, pipeline: tuple[ServerPipeline, Heard]
) -> None:
    pipe, heard = pipeline
    env = demo.env({**os.environ, **INSTANT, "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz0123"})
    plan, url = demo_plan(demo, env)
    run_dir = tmp_path / "run"
    await pipe.launch(plan, env, run_dir, url)
    status = await pipe.wait_settled(BOUND_S)
    assert status.state == "ready" and status.detail is None, status
    assert heard.states[:2] == ["starting", "ready"]
    assert pipe.view.facts["architecture"] == "Qwen2ForCausalLM"
    # Ready comes from the parse; the window takes its batch at the next flush (a busy loop may lag it).
    await _eventually(lambda: any("Application startup complete." in line.text for line in pipe.window.shown("all")))
    assert pipe.status.pid is not None
    tree = tree_of(pipe.status.pid)

    launch = json.loads((run_dir / "launch.json").read_text())
    assert launch["argv"] == list(plan.argv) and launch["profile"] == "demo" and launch["variant"] == "eager"
    assert launch["pid"] == pipe.status.pid and launch["url"] == url and launch["log"] == "server.log"
    assert launch["env"]["HF_TOKEN"] == MASK, "a secret never lands on disk"
    assert launch["env"]["PATH"] == env["PATH"], "everything else is there as the server got it"
    assert "hf_abcdefghijklmnopqrstuvwxyz0123" not in (run_dir / "launch.json").read_text()
    assert "--enforce-eager" in (run_dir / "launch.sh").read_text()

    facts_file = run_dir / "facts.json"
    for _ in range(int(BOUND_S / 0.05)):  # kept current while the server runs, not only at its end
        if facts_file.exists() and json.loads(facts_file.read_text()).get("ready") is True:
            break
        await asyncio.sleep(0.05)
    assert json.loads(facts_file.read_text())["architecture"] == "Qwen2ForCausalLM"
    assert not (run_dir / "stop.json").exists()

    report = await pipe.stop()
    assert report is not None and report.ok
    assert pipe.status.state == "stopped"
    assert not [pid for pid in tree if pid_running(pid)], "the whole tree is gone"
    stop = json.loads((run_dir / "stop.json").read_text())
    assert stop["how"] == "stopped" and stop["asked_by"] == "the operator"
    assert stop["survivors"] == [] and tree[0] in stop["stopped"]
    facts = json.loads((run_dir / "facts.json").read_text())
    assert facts["architecture"] == "Qwen2ForCausalLM" and facts["ready"] is True
    assert "Application shutdown complete." in (run_dir / "server.log").read_text()
    assert heard.problems == []


async def test_a_failed_start_is_recorded_with_its_root_cause(
    demo: DemoHost, tmp_path: Path, pipeline: tuple[ServerPipeline, Heard]
) -> None:
    pipe, _ = pipeline
    env = demo.env({**os.environ, **INSTANT, "NPU_CONSOLE_SIM_FAULT": "startup"})
    plan, url = demo_plan(demo, env)
    await pipe.launch(plan, env, tmp_path / "run", url)
    status = await pipe.wait_settled(BOUND_S)
    assert status.state == "failed"
    assert status.detail is not None and "Root cause: ascend_error" in status.detail
    stop = json.loads((tmp_path / "run" / "stop.json").read_text())
    assert stop["how"] == "failed" and stop["asked_by"] is None
    assert stop["exit"]["returncode"] != 0 and stop["root_cause"]["kind"] == "ascend_error"
    assert json.loads((tmp_path / "run" / "facts.json").read_text())["root_cause"]["kind"] == "ascend_error"


async def test_a_second_launch_keeps_the_first_ones_evidence_and_reads_only_its_own_lines(
    demo: DemoHost, tmp_path: Path, pipeline: tuple[ServerPipeline, Heard]
) -> None:
    pipe, _ = pipeline
    env = demo.env({**os.environ, **INSTANT})
    plan, url = demo_plan(demo, env)
    run_dir = tmp_path / "run"
    for _ in range(2):
        await pipe.launch(plan, env, run_dir, url)
        assert (await pipe.wait_settled(BOUND_S)).state == "ready"
        await pipe.stop()
    assert (run_dir / "launch.1.json").exists() and (run_dir / "stop.1.json").exists()
    assert (run_dir / "facts.1.json").exists() and (run_dir / "launch.json").exists()
    second = json.loads((run_dir / "launch.json").read_text())
    assert second["log_offset"] > 0, "the second launch appends to server.log after the first"
    ready_lines = [line for line in pipe.window.shown("all") if "Application startup complete." in line.text]
    assert len(ready_lines) == 1, "the first launch's lines are not read again as the second's"
    assert (run_dir / "server.log").read_text().count("Application startup complete.") == 2


async def test_attach_resets_what_launch_resets_metrics_included(
    demo: DemoHost, tmp_path: Path, pipeline: tuple[ServerPipeline, Heard]
) -> None:
    pipe, heard = pipeline
    server = SimServer(demo, tmp_path / "other.log").start()
    try:
        server.wait_ready()
        pipe.attach(server.log_path, server.url, True, run_dir=tmp_path / "run")
        assert (await pipe.wait_settled(BOUND_S)).state == "attached"

        await asyncio.wait_for(heard.two_scrapes.wait(), BOUND_S)
        assert len(pipe.metrics) >= 2 and len(pipe.window) > 0
        other = tmp_path / "empty.log"
        other.write_text("")
        pipe.attach(other, None, True, run_dir=tmp_path / "run")
        assert len(pipe.metrics) == 0 and len(pipe.window) == 0 and len(pipe.stats_history) == 0
        assert pipe.view.facts.get("architecture") is None
        pipe.detach()
        await pipe.close()
        assert pid_running(server.pid), "attaching and detaching never stop what we did not start"
        run = tmp_path / "run"
        assert json.loads((run / "attach.1.json").read_text())["url"] == server.url
        assert json.loads((run / "stop.json").read_text())["how"] == "detached"
        assert heard.problems == []
    finally:
        server.kill()


async def test_an_unwritable_run_folder_is_one_sentence_and_nothing_starts(
    demo: DemoHost, tmp_path: Path, pipeline: tuple[ServerPipeline, Heard]
) -> None:
    pipe, _ = pipeline
    env = demo.env({**os.environ, **INSTANT})
    plan, url = demo_plan(demo, env)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EvidenceError) as raised:
        await pipe.launch(plan, env, blocker / "run", url)
    sentence = str(raised.value)
    assert "cannot write the evidence" in sentence and "--runs-dir" in sentence and "\n" not in sentence
    assert pipe.server is None and pipe.status.state == "not started"


def test_evidence_masks_secrets_in_the_environment_and_argv() -> None:
    env = {"OPENAI_API_KEY": "sk-abcdefghijklmnopqrstuvwxyz", "PIP_INDEX_URL": "https://op:hunter2pw@mirror/simple",
           "TOKENIZERS_PARALLELISM": "false", "PATH": "/usr/bin"}
    shown = redacted_env(env)
    assert shown["OPENAI_API_KEY"] == MASK and "hunter2pw" not in shown["PIP_INDEX_URL"]
    assert shown["TOKENIZERS_PARALLELISM"] == "false" and shown["PATH"] == "/usr/bin"
    argv = ["vllm", "serve", "/m", "--api-key", "plainsecret123", "--port", "8000"]
    assert redacted_argv(argv, env) == ["vllm", "serve", "/m", "--api-key", MASK, "--port", "8000"]


def test_record_launch_refuses_a_folder_it_cannot_write(tmp_path: Path) -> None:
    plan = LaunchPlan("p", None, "/m", (sys.executable, "-c", "pass"), {}, ())
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EvidenceError):
        RunEvidence(blocker / "run").record_launch(plan, {}, None)
