"""`npu-console profiles list | show | validate`: output and exit codes.

Run in-process on a parsed Namespace (the way tui.cli calls it), plus once as a
real subprocess through `python -m tui` to pin the wiring and the streams.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.profiles.helpers import BAD, REPO_ROOT, SHIPPED, toml_loads
from tui.commands import profiles as command


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="npu-console profiles")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


@pytest.fixture
def user_dir(isolated_home: Path) -> Path:
    """The user's profile folder under the test's XDG_CONFIG_HOME."""
    folder = isolated_home / "config" / "npu-console" / "profiles"
    folder.mkdir(parents=True)
    return folder


def test_list_shows_name_origin_runtime_model_path(
    user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (user_dir / "mine.toml").write_text('runtime = "vllm"\n[model]\nid = "Qwen/Mine"\n')
    assert run("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ORIGIN", "RUNTIME", "MODEL", "PATH"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["mine"] == ["mine", "user", "vllm", "Qwen/Mine", str(user_dir / "mine.toml")]
    demo = ["demo", "shipped", "simulated", "Qwen/Qwen2.5-0.5B-Instruct", str(SHIPPED / "demo.toml")]
    assert rows["demo"] == demo
    # Columns line up under their headings.
    for heading in ("ORIGIN", "RUNTIME", "MODEL", "PATH"):
        column = lines[0].index(heading)
        position = ["NAME", "ORIGIN", "RUNTIME", "MODEL", "PATH"].index(heading)
        for line in lines[1:]:
            assert line[column:].startswith(line.split()[position])


def test_list_shows_a_broken_file_and_its_error(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = user_dir / "broken.toml"
    broken.write_text('[model]\nid = "x"\n[server]\nprot = 1\n')
    assert run("list") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("broken "))
    assert lines[index].split() == ["broken", "user", "-", "(invalid)", str(broken)]
    error = f"  ! {broken}:4: server.prot: unknown key 'prot'; did you mean 'port'?"
    assert lines[index + 1].startswith(error)


def test_list_json(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (user_dir / "bad.toml").write_text("[model\n")
    assert run("list", "--json") == 0
    entries = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert entries["demo"] == {
        "name": "demo", "origin": "shipped", "path": str(SHIPPED / "demo.toml"), "runtime": "simulated",
        "model": "Qwen/Qwen2.5-0.5B-Instruct", "description": entries["demo"]["description"], "error": None,
    }
    assert entries["bad"]["runtime"] is None
    assert entries["bad"]["error"].startswith(f"{user_dir / 'bad.toml'}:1: invalid TOML: ")


def test_show_prints_path_and_full_toml(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "qwen3-4b-thinking-2507-fp8-ascend") == 0
    out = capsys.readouterr().out
    first, _, body = out.partition("\n")
    assert first == f"# {SHIPPED / 'qwen3-4b-thinking-2507-fp8-ascend.toml'}"
    data = toml_loads(body)
    assert data["server"]["served_model_name"] == "qwen3-4b-thinking-2507-fp8"
    assert data["stages"]["bench"]["serve"]["num_prompts"] == 32  # defaults are shown too


def test_show_raw_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "--raw", str(SHIPPED / "demo.toml")) == 0
    out = capsys.readouterr().out
    assert out == f"# {SHIPPED / 'demo.toml'}\n" + (SHIPPED / "demo.toml").read_text(encoding="utf-8")


def test_show_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "dem0") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("npu-console profiles show: no profile named 'dem0'; did you mean 'demo'?")
    assert len(captured.err.strip().splitlines()) == 1


def test_show_broken_profile(capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / "port_as_string.toml"
    assert run("show", str(path)) == 2
    err = capsys.readouterr().err
    assert err == (f"npu-console profiles show: {path}:6: server.port: "
                   "expected an integer 1-65535, got the string '8000'\n")


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(path) for path in sorted(SHIPPED.glob("*.toml"))]
    assert run("validate", *paths) == 0
    assert capsys.readouterr().out.splitlines() == [f"ok {path}" for path in paths]


def test_validate_bad_and_good(capsys: pytest.CaptureFixture[str]) -> None:
    good = str(SHIPPED / "demo.toml")
    bad = BAD / "unknown_nested_key.toml"
    missing = "nowhere/x.toml"
    assert run("validate", good, str(bad), missing) == 2
    captured = capsys.readouterr()
    assert captured.out == f"ok {good}\n"
    assert captured.err.splitlines() == [
        f"{bad}:7: server.prot: unknown key 'prot'; did you mean 'port'? Known keys: command, model_flag, "
        "host, port, served_model_name, api_key_env, flags, extra_args",
        "nowhere/x.toml: the profile file does not exist",
    ]


def test_validate_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", str(SHIPPED)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"ok {path}" for path in sorted(SHIPPED.glob("*.toml"))]
    assert run("validate", str(BAD)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == len(list(BAD.glob("*.toml")))


def test_validate_needs_a_path() -> None:
    with pytest.raises(SystemExit) as caught:
        run("validate")
    assert caught.value.code == 2


def test_subcommand_is_required() -> None:
    with pytest.raises(SystemExit) as caught:
        run()
    assert caught.value.code == 2


def test_real_subprocess(isolated_home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    bad = BAD / "bool_where_int.toml"
    result = subprocess.run(
        [sys.executable, "-m", "tui", "profiles", "validate", str(SHIPPED / "demo.toml"), str(bad)],
        cwd=isolated_home, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == f"ok {SHIPPED / 'demo.toml'}\n"
    message = "expected an integer >= 1, got the boolean true"
    assert result.stderr == f"{bad}:6: stages.bench.latency.runs: {message}\n"

    listing = subprocess.run(
        [sys.executable, "-m", "tui", "profiles", "list"],
        cwd=isolated_home, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert "qwen2.5-coder-0.5b-ascend" in listing.stdout
