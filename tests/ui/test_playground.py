"""The Playground driven with Pilot against the simulated server on loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Input, OptionList, Static

from tests.sim.harness import SimServer
from tests.ui.helpers import FixedHost, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.choice import ChoiceScreen
from tui.sim.demo import DemoHost, prepare_demo_host
from tui.startup.session import ConsoleSession
from widgets.chat_turn import ChatTurn
from widgets.playground_view import PlaygroundView


@pytest.fixture
def host(tmp_path: Path) -> DemoHost:
    return prepare_demo_host(tmp_path / "sim")


@pytest.fixture
def served(host: DemoHost, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """The simulated vLLM serving the model the test names (default: the 0.5B instruct), at `tpot` ms/token."""
    model, tpot = getattr(request, "param", ("Qwen2.5-0.5B-Instruct", "0"))
    extra = ("--reasoning-parser", "qwen3") if "Thinking" in model else ()
    server = SimServer(host, tmp_path / "server.log").start(
        model, *extra, env={"NPU_CONSOLE_SIM_TPOT_MS": tpot, "NPU_CONSOLE_SIM_TTFT_MS": "5"})
    server.wait_ready()
    yield server
    server.kill()


def console(tmp_path: Path, host: DemoHost, server: SimServer, model: str | None = None) -> NpuConsoleApp:
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=server.port, served_model_name=model))
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=host.env(dict(os.environ)),
                             simulated=True)
    return make_app(session, host_sampler=FixedHost())


def turns(app: NpuConsoleApp) -> list[ChatTurn]:
    return list(app.main.query(ChatTurn))


async def send(app: NpuConsoleApp, pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("3", "enter")
    box = app.main.query_one("#prompt", Input)
    assert box.has_focus
    box.value = text
    await pilot.press("enter")


async def test_a_streamed_reply_renders_with_its_numbers_and_is_journaled(
    tmp_path: Path, host: DemoHost, served: SimServer
) -> None:
    app = console(tmp_path, host, served)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "say hi")
        await wait_until(pilot, lambda: bool(turns(app)) and "tok/s" in str(
            turns(app)[0].query_one(".stats", Static).content), timeout=20, what="the finished reply")
        turn = turns(app)[0]
        assert turn.answer_text.strip(), "the answer streamed into the view"
        stats = str(turn.query_one(".stats", Static).content)
        assert "TTFT" in stats and "tokens" in stats and "estimated" not in stats
        assert app.playground.history[-1].content == turn.answer_text
        run_dir = app.session.run_dir
        assert run_dir is not None
        records = [json.loads(line) for line in (run_dir / "chat.jsonl").read_text().splitlines()]
        assert [r["type"] for r in records] == ["request", "reply"]
        assert records[0]["prompt"] == "say hi" and records[0]["body"]["messages"][-1]["content"] == "say hi"
        assert records[1]["text"] == turn.answer_text and records[1]["partial"] is False


@pytest.mark.parametrize("served", [("Qwen2.5-0.5B-Instruct", "40")], indirect=True)
async def test_escape_cancels_and_keeps_the_partial_text(tmp_path: Path, host: DemoHost, served: SimServer) -> None:
    app = console(tmp_path, host, served)
    app.playground.sampling = replace(app.playground.sampling, max_tokens=400)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "Write a long story.")
        await wait_until(pilot, lambda: bool(turns(app)) and len(turns(app)[0].answer_text) > 20, timeout=20,
                         what="some streamed text")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Cancelled" in _texts(turns(app)[0]), timeout=10, what="the cancel")
        partial = turns(app)[0].answer_text
        assert partial, "the text that had arrived stays"
        run_dir = app.session.run_dir
        assert run_dir is not None
        reply = json.loads((run_dir / "chat.jsonl").read_text().splitlines()[-1])
        assert reply["partial"] is True and reply["text"] == partial


@pytest.mark.parametrize("served", [("Qwen3-4B-Thinking-2507", "0")], indirect=True)
async def test_thinking_is_folded_apart_from_the_answer(tmp_path: Path, host: DemoHost, served: SimServer) -> None:
    app = console(tmp_path, host, served)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "What is 2 + 3 × 4?")
        await wait_until(pilot, lambda: bool(turns(app)) and "tok/s" in _texts(turns(app)[0]), timeout=20,
                         what="the reply")
        turn = turns(app)[0]
        box = turn.query_one(Collapsible)
        assert not box.has_class("-empty") and box.collapsed, "thinking shown folded"
        assert turn.reasoning_text and turn.reasoning_text not in turn.answer_text


async def test_history_is_saved_and_reopened(tmp_path: Path, host: DemoHost, served: SimServer) -> None:
    app = console(tmp_path, host, served)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "first question")
        await wait_until(pilot, lambda: bool(turns(app)) and "tok/s" in _texts(turns(app)[0]), timeout=20,
                         what="the reply")
        answer = turns(app)[0].answer_text
        first_id = app.playground.conversation_id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not turns(app), what="a new, empty conversation")
        assert app.playground.history == []
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the history list")
        options = app.screen.query_one(OptionList)
        assert options.option_count >= 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(turns(app)), what="the reopened turns")
        assert turns(app)[0].answer_text == answer
        assert app.playground.conversation_id == first_id
        assert [m.content for m in app.playground.history] == ["first question", answer]


async def test_a_server_that_is_not_running_is_one_sentence(tmp_path: Path, host: DemoHost,
                                                             served: SimServer) -> None:
    app = console(tmp_path, host, served)
    served.kill()
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "hello?")
        await wait_until(pilot, lambda: bool(turns(app)) and "No server is running" in _texts(turns(app)[0]),
                         timeout=20, what="the refused sentence")
        assert "press `l` in the console" in _texts(turns(app)[0])
        assert app.main.query_one(PlaygroundView).streaming is False


def _texts(turn: ChatTurn) -> str:
    return " ".join(str(static.content) for static in turn.query(Static))


async def test_logprobs_with_alternatives_are_there_on_demand(tmp_path: Path, host: DemoHost,
                                                              served: SimServer) -> None:
    app = console(tmp_path, host, served)
    app.playground.sampling = replace(app.playground.sampling, logprobs=3, max_tokens=8)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "say hi")
        await wait_until(pilot, lambda: bool(turns(app)) and "tok/s" in _texts(turns(app)[0]), timeout=20,
                         what="the reply")
        await wait_until(pilot, lambda: len(turns(app)[0].query(Collapsible)) == 2, what="the logprobs block")
        logprobs = turns(app)[0].query(Collapsible).last()
        assert logprobs.collapsed and logprobs.title.startswith("Logprobs (")


async def test_edit_last_takes_the_exchange_back_into_the_box(tmp_path: Path, host: DemoHost,
                                                              served: SimServer) -> None:
    app = console(tmp_path, host, served)
    async with app.run_test(size=(160, 45)) as pilot:
        await send(app, pilot, "a question to rephrase")
        await wait_until(pilot, lambda: bool(turns(app)) and "tok/s" in _texts(turns(app)[0]), timeout=20,
                         what="the reply")
        assert len(app.playground.history) == 2
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: not turns(app), what="the turn taken back")
        assert app.playground.history == []
        box = app.main.query_one("#prompt", Input)
        assert box.value == "a question to rephrase" and box.has_focus
