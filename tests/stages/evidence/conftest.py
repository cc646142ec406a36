"""Servers for the evidence tests: the simulated vLLM on loopback, and a scripted one that never answers
the same way twice; and a fake `/usr/local/Ascend` tree built on disk."""

from __future__ import annotations

import itertools
import json
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.sim.harness import SimServer
from tui.sim.demo import DEFAULT_MODEL, DemoHost, prepare_demo_host

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOARD = FIXTURES / "910B_info-t-board-i0_25.5.1.txt"


@pytest.fixture(scope="module")
def evidence_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoHost:
    return prepare_demo_host(tmp_path_factory.mktemp("evidence-sim"))


@pytest.fixture(scope="module")
def sim_url(evidence_demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simulated vLLM server shared by the module, answering at once."""
    server = SimServer(evidence_demo, tmp_path_factory.mktemp("sim-log") / "server.log").start(DEFAULT_MODEL)
    server.wait_ready()
    yield server.url
    server.kill()


@pytest.fixture
async def drifting_server() -> AsyncIterator[str]:
    """An OpenAI-shaped server whose every answer differs (as a nondeterministic kernel would make it)."""
    counter = itertools.count(1)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "drift"}]})

    async def version(_: web.Request) -> web.Response:
        return web.json_response({"version": "0.0-drift"})

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = f"answer number {next(counter)}"
        chat = request.path.endswith("/chat/completions")
        if not body.get("stream"):
            choice = {"index": 0, "finish_reason": "stop",
                      **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
            return web.json_response({"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 3,
                                                                     "total_tokens": 6}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        piece: dict[str, object] = {"delta": {"content": text}} if chat else {"text": text}
        end: dict[str, object] = {"delta": {}} if chat else {"text": ""}
        for payload in (json.dumps({"choices": [{"index": 0, **piece}]}),
                        json.dumps({"choices": [{"index": 0, **end, "finish_reason": "stop"}]}),
                        json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3,
                                                             "total_tokens": 6}}),
                        "[DONE]"):
            await response.write(f"data: {payload}\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/version", version)
    app.router.add_post("/v1/chat/completions", answer)
    app.router.add_post("/v1/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_ascend(root: Path, *, toolkit: str = "8.0.RC2", driver: str = "24.1.rc2", board: Path = BOARD) -> Path:
    """A `/usr/local/Ascend` as the installers leave it (older CANN layout), with an `npu-smi` that prints
    a real board output for `info -t board` and fails like the real tool for anything else."""
    release = root / "ascend-toolkit" / toolkit
    info = release / "aarch64-linux" / "ascend_toolkit_install.info"
    info.parent.mkdir(parents=True)
    info.write_text(f"package_name=Ascend-cann-toolkit\nversion={toolkit}\ninnerversion=V100R001C18SPC001B241\n"
                    "compatible_version=[V100R001C15],[V100R001C17],[V100R001C18]\narch=aarch64\nos=linux\n"
                    f"path={release}/aarch64-linux\n")
    (root / "ascend-toolkit" / "latest").symlink_to(toolkit)
    (root / "driver").mkdir(parents=True)
    (root / "driver" / "version.info").write_text(
        f"Version={driver}\nascendhal_version=7.35.23\naicpu_version=1.0\ntdt_version=1.0\nlog_version=1.0\n"
        "prof_version=2.0\ndvppkernels_version=1.1\ntsfw_version=1.0\nInnerversion=V100R001C17SPC002B224\n"
        "required_firmware_lowest_compatible_version=7.1.0.3.220\n")
    executable(root / "driver" / "tools" / "npu-smi", f"""#!{sys.executable}
import sys
if sys.argv[1:4] == ["info", "-t", "board"]:
    sys.stdout.write(open({str(board)!r}).read())
    sys.exit(0)
print("Error command. Please check the command format.")
sys.exit(255)
""")
    return root


@pytest.fixture
def no_device_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds no npu-smi or nvidia-smi (and no CANN variables)."""
    bin_dir = tmp_path / "bare-bin"
    bin_dir.mkdir()
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", str(tmp_path))}
    return env
