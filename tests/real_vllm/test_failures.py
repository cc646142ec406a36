"""The current vLLM's eight launch failures, made with the real CPU build through `npu-console serve`.

Each case writes the profile an operator would have written wrong (or sets up the host wrong), launches
it with `npu-console serve --force` (preflight catches several of these before launch: `--force` is the
operator insisting, and it is what makes vLLM itself fail), and requires from the console:

- the specific root-cause kind, never a bare `traceback` (issue 12: five of these were `traceback`, the
  misspelled flag had no root cause at all);
- a hint that names the fix;
- the exception's own message on `serve`'s stderr (`root cause: KIND: MESSAGE`), so the operator need
  not open the log;
- the same diagnosis from `npu-console log facts --json` of the run's `server.log`;
- no process of the launch left behind.

The failures are cheap: vLLM stops while importing or validating its config (20-30 s each on 2 cores,
most of it importing torch), one at a time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from rich.console import Console
from textual.widgets import Static

from tests.real_vllm import console, engine
from tests.sim.harness import free_port
from tests.ui.helpers import FixedHost, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.processes.tree import TREE_MARK_VAR
from tui.profile import load_profile
from tui.screens.preflight import PreflightScreen
from tui.startup.session import ConsoleSession

FAILURE_TIMEOUT_S = 600.0
"""A failed launch ends in 20-40 s on an idle 2-core machine; generous for a busy one."""


@dataclass
class Case:
    """One failure: how the profile (or host) is made wrong, and what the console must say about it."""

    kind: str
    message: str  # a piece of the exception's own message, as `serve` must print it
    hint: tuple[str, ...]  # pieces the hint must contain: the fix, named
    flags: dict[str, object] = field(default_factory=dict)
    detail: dict[str, object] | None = None  # expected `detail` entries (a subset)
    model: str = "built"  # "built" | "missing" | "hub" | "badarch" | "noweights"
    hold_port: bool = False
    no_target_device: bool = False


CASES = {
    "port_in_use": Case("port_in_use", "OSError: [Errno 98] Address already in use", ("--port",), hold_port=True),
    "missing_path": Case("model_not_found", "HFValidationError: Repo id must be in the form",
                         ("does not exist", "[model]"), model="missing", detail={"reason": "missing_path"}),
    "unknown_hub_id": Case("model_not_found", "LocalEntryNotFoundError: Cannot find an appropriate cached snapshot",
                           ("nobody-xyz/no-such-model-123", "HF_HUB_OFFLINE", "download it first"), model="hub",
                           detail={"reason": "unknown_hub_id", "model": "nobody-xyz/no-such-model-123"}),
    "architecture": Case("unsupported_architecture", "ValueError: Model architectures ['FooBarForCausalLM'] are not",
                         ("architectures", "config.json"), model="badarch"),
    "no_weights": Case("model_not_found", "RuntimeError: Cannot find any model weights with",
                       ("no weights", "download"), model="noweights", detail={"reason": "no_weights"}),
    "max_model_len": Case("max_model_len", "ValueError: User-specified max_model_len (4096) is greater than",
                          ("--max-model-len 4096", "at most 1024"), flags={"max-model-len": 4096},
                          detail={"requested": 4096, "supported": 1024}),
    "misspelled_flag": Case("bad_argument", "vllm: error: unrecognized arguments: --enforce-eagre",
                            ("--enforce-eagre", "did you mean --enforce-eager?"), flags={"enforce-eagre": True},
                            detail={"flag": "--enforce-eagre", "suggestion": "--enforce-eager"}),
    "quantization": Case("unsupported_quantization", "RuntimeError: _C::static_scaled_fp8_quant()",
                         ("remove --quantization fp8",), flags={"quantization": "fp8"},
                         detail={"quantization": "fp8"}),
    "no_platform": Case("no_platform", "RuntimeError: Failed to infer device type",
                        ("VLLM_TARGET_DEVICE=cpu", "vllm-ascend", "set_env.sh"), no_target_device=True),
}


def model_for(case: Case, built: Path, folder: Path) -> tuple[str, str | None]:
    """The profile's ([model] id, path) for the case; folders are made in `folder` from the built tiny model."""
    if case.model == "missing":
        return "tiny-qwen2", str(folder / "does-not-exist")
    if case.model == "hub":
        return "nobody-xyz/no-such-model-123", None
    if case.model == "badarch":
        target = folder / "tiny-badarch"
        shutil.copytree(built, target)
        config = json.loads((target / "config.json").read_text(encoding="utf-8"))
        config["architectures"] = ["FooBarForCausalLM"]
        (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
        return "tiny-qwen2", str(target)
    if case.model == "noweights":
        target = folder / "tiny-noweights"
        target.mkdir()
        for item in built.glob("*.json"):
            shutil.copy(item, target)
        return "tiny-qwen2", str(target)
    return "tiny-qwen2", str(built)


def write_case_profile(case: Case, built: Path, folder: Path, port: int) -> Path:
    """The tier's operator profile, then made wrong as the case says (model, flags, environment)."""
    model_id, model_path = model_for(case, built, folder)
    path = console.write_profile(folder / "failure.toml", built, port, name="failure")
    text = path.read_text(encoding="utf-8")
    model_table = f'[model]\nid = {json.dumps(model_id)}\n'
    model_table += ('source = "local"\npath = ' + json.dumps(model_path) + "\n") if model_path else \
        'source = "huggingface"\n'
    text = re.sub(r"\[model\]\n(?:[^\[\n][^\n]*\n)+", model_table, text, count=1)
    for flag, value in case.flags.items():
        line = f"{flag} = {json.dumps(value) if not isinstance(value, bool) else str(value).lower()}"
        if re.search(rf"^{re.escape(flag)} = .*$", text, flags=re.M):
            text = re.sub(rf"^{re.escape(flag)} = .*$", line, text, count=1, flags=re.M)
        else:
            text = text.replace("[server.flags]\n", f"[server.flags]\n{line}\n", 1)
    if case.no_target_device:
        text = re.sub(r'^VLLM_TARGET_DEVICE = .*\n', "", text, flags=re.M)
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def port_held(port: int, hold: bool) -> Iterator[None]:
    """Another process's listener on `port` (here: this test's own socket) while the case runs."""
    if not hold:
        yield
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield


def marked_by(folder: Path) -> list[psutil.Process]:
    """Processes whose console tree mark (`NPU_CONSOLE_TREE`, inherited by the whole server tree) names a log
    under `folder`: what a launch from this test started."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.pid != os.getpid() and str(folder) in process.environ().get(TREE_MARK_VAR, ""):
                found.append(process)
    return found


def left_behind(folder: Path) -> list[str]:
    """What of the launch is still alive after a bounded wait (stopped here, and named, so the test fails)."""
    left = console.wait_gone(marked_by(folder), timeout=60.0)
    for process in marked_by(folder):
        engine.stop_tree(process.pid)
    return left


def serve_fails(profile: Path, runs: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`npu-console serve --profile P --force`, to its end: (exit status, stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--runs-dir", str(runs), "--force"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        cwd=console.REPO,
    )
    try:
        stdout, stderr = process.communicate(timeout=FAILURE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        engine.stop_tree(process.pid)
        stdout, stderr = process.communicate(timeout=30)
        pytest.fail(f"npu-console serve did not end within {FAILURE_TIMEOUT_S:g} s:\n{stdout[-3000:]}\n{stderr}")
    return process.returncode, stdout, stderr


def log_facts(server_log: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "tui", "log", "facts", str(server_log), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=console.REPO)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert isinstance(facts, dict)
    return facts


def check_diagnosis(case: Case, cause: object) -> None:
    assert isinstance(cause, dict), cause
    assert cause["kind"] == case.kind, cause
    assert case.message in str(cause["message"]), cause
    for piece in case.hint:
        assert piece in str(cause["hint"]), (piece, cause["hint"])
    for key, value in (case.detail or {}).items():
        assert isinstance(cause["detail"], dict) and cause["detail"].get(key) == value, cause


@pytest.mark.parametrize("name", list(CASES))
def test_each_launch_failure_gets_its_kind_hint_and_own_message(
    name: str, tiny_qwen2: Path, tmp_path: Path
) -> None:
    case = CASES[name]
    port = free_port()
    profile = write_case_profile(case, tiny_qwen2, tmp_path, port)
    env = dict(os.environ)
    if case.no_target_device:
        env.pop("VLLM_TARGET_DEVICE", None)
    runs = tmp_path / "runs"
    with port_held(port, case.hold_port):
        status, stdout, stderr = serve_fails(profile, runs, env)
    assert left_behind(runs) == [], "processes of the failed launch outlived it"

    assert status == 1, (stdout, stderr)
    # serve's own words: the specific kind, the exception's message, what to try.
    root_line = next((line for line in stderr.splitlines() if "root cause: " in line), None)
    assert root_line is not None, stderr
    assert f"root cause: {case.kind}: " in root_line, root_line
    assert case.message in root_line, root_line
    assert "traceback" not in root_line.split("root cause: ", 1)[1].split(":", 1)[0]
    tried = next((line for line in stderr.splitlines() if line.strip().startswith("what to try:")), "")
    for piece in case.hint:
        assert piece in tried, (piece, stderr)

    # The run's evidence says the same: `log facts` of its server.log, and facts.json.
    server_log = next(runs.glob("*/*/server.log"))
    facts = log_facts(server_log)
    check_diagnosis(case, facts["root_cause"])
    facts_file = server_log.with_name("facts.json")
    if facts_file.is_file():
        saved = json.loads(facts_file.read_text(encoding="utf-8"))
        check_diagnosis(case, saved.get("root_cause"))


# ---- the TUI's diagnosis ---------------------------------------------------------------------------------


def plain(app: NpuConsoleApp, selector: str) -> str:
    out = Console(width=200, record=True, file=io.StringIO())
    out.print(app.main.query_one(selector, Static).content)
    return out.export_text()


async def test_the_consoles_diagnosis_shows_the_kind_hint_and_the_exceptions_own_message(
    tiny_qwen2: Path, tmp_path: Path
) -> None:
    """The launch key with a model whose architecture vLLM lacks (preflight passes it: config.json and weights
    are there): the Server area's diagnosis names `unsupported_architecture`, vLLM's own ValueError, the fix."""
    case = CASES["architecture"]
    profile = write_case_profile(case, tiny_qwen2, tmp_path, free_port())
    session = ConsoleSession(profile=load_profile(profile), runs_root=tmp_path / "runs", env=dict(os.environ),
                             variant="eager")
    app = make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)
    async with app.run_test(size=(200, 50)) as pilot:
        try:
            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), timeout=engine.START_TIMEOUT_S,
                             what="the preflight checklist")
            checklist = "\n".join(str(static.content) for static in app.screen.query(Static))
            assert "✘" not in checklist, checklist
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.server.status.state == "failed", timeout=FAILURE_TIMEOUT_S,
                             what="the launch to fail")
            await wait_until(pilot, lambda: "Root cause" in plain(app, "#server-facts"), timeout=60,
                             what="the diagnosis")
            shown = " ".join(plain(app, "#server-facts").split())
            assert "Root cause: unsupported_architecture" in shown, shown
            assert "ValueError: Model architectures ['FooBarForCausalLM'] are not supported" in shown, shown
            assert "architectures" in shown.split("Try:", 1)[1], shown
        finally:
            await app.server.stop()
    assert left_behind(tmp_path / "runs") == [], "processes of the failed launch outlived it"
