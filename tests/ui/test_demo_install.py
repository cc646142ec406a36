"""The demo's own files: one simulated host per install, and the port it starts on."""

from __future__ import annotations

import socket
from pathlib import Path

from tui.sim.host import install_sim_home
from tui.startup.build import _port_free


def test_two_checkouts_get_two_simulated_hosts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-a/bin/python")
    second = install_sim_home(data, tmp_path / "checkout-b" / "npu-console", "/venv-a/bin/python")
    other_python = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-b/bin/python")
    again = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-a/bin/python")
    assert len({first, second, other_python}) == 3
    assert first == again
    assert first.parent == data / "sim" and first.name.startswith("npu-console-")


def test_a_port_in_time_wait_counts_as_free() -> None:
    """The last demo server's socket lingering in TIME_WAIT must not move the demo off its port."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        assert not _port_free("127.0.0.1", port)  # listening: busy
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.recv(1)
        client.close()
    assert _port_free("127.0.0.1", port)


async def test_the_demo_dequant_runs_for_real_on_a_tiny_fp8_checkpoint(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from tests.ui.helpers import capture_notes, wait_until
    from tests.ui.test_server_area import demo_console, plain
    from tui.screens.confirm import ConfirmScreen

    app = demo_console(tmp_path)
    notes = capture_notes(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: "dequant: succeeded" in plain(app, "#stage-status"), timeout=120,
                         what="the dequant of the demo's FP8 checkpoint")
        assert not isinstance(app.screen, ConfirmScreen), "the shipped demo profile is not rewritten"
    output = tmp_path / "sim" / "models" / "tiny-fp8-as-bf16"
    assert (output / "model.safetensors").is_file()
    assert "quantization_config" not in (output / "config.json").read_text()
    assert not any("no FP8 source" in note for note in notes)


async def test_the_demo_precision_check_gets_a_tiny_real_model(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.ui.helpers import wait_until
    from tests.ui.test_server_area import demo_console
    from tui.screens.choice import ChoiceScreen

    app = demo_console(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen) and bool(app.screen.query("OptionList")),
                         timeout=120, what="the precision choice, on the demo's real model")
        from textual.widgets import OptionList

        detail = str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
        assert "tiny-qwen2" in detail
        await pilot.press("escape")
    assert (tmp_path / "sim" / "models" / "tiny-qwen2" / "model.safetensors").is_file()
