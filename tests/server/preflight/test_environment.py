"""Resolving the server's environment by sourcing real shell files through a real bash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.processes.commands import SubprocessRunner
from tui.server.environment import ResolvedEnv, resolve_environment


@pytest.fixture
def base() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/home/op", "DROPPED": "old"}


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


async def test_sourced_exports_then_overrides_on_top(tmp_path: Path, base: dict[str, str]) -> None:
    cann = write(
        tmp_path / "set_env.sh",
        'export ASCEND_HOME_PATH=/usr/local/Ascend/ascend-toolkit/latest\n'
        'export LD_LIBRARY_PATH="$ASCEND_HOME_PATH/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n'
        "unset DROPPED\n"
        'echo "noise on stdout must not break parsing"\n'
        "export MULTI='line one\nline two'\n",
    )
    resolved = await resolve_environment(
        base, [cann], {"LD_LIBRARY_PATH": "/opt/extra:${LD_LIBRARY_PATH}", "OWN": "${HOME}/x"}, SubprocessRunner()
    )
    assert resolved.problems == () and resolved.sourced == (cann,)
    env = resolved.env
    assert env["ASCEND_HOME_PATH"] == "/usr/local/Ascend/ascend-toolkit/latest"
    assert env["LD_LIBRARY_PATH"] == "/opt/extra:/usr/local/Ascend/ascend-toolkit/latest/lib64"
    assert env["OWN"] == "/home/op/x"
    assert env["MULTI"] == "line one\nline two"
    assert "DROPPED" not in env and "_" not in env and "SHLVL" not in env
    # Nothing of this test process's own environment leaks in beyond what `base` had.
    assert set(env) <= set(base) | {"ASCEND_HOME_PATH", "LD_LIBRARY_PATH", "OWN", "MULTI"}


async def test_missing_failing_exiting_and_hanging_files_are_sentences(tmp_path: Path, base: dict[str, str]) -> None:
    good = write(tmp_path / "good.sh", "export GOOD=1\n")
    exits = write(tmp_path / "exits.sh", "export FROM_EXIT=1\necho 'set_env: no such toolkit' >&2\nexit 1\n")
    fails = write(tmp_path / "fails.sh", "export HALF=done\nfalse\n")
    hangs = write(tmp_path / "hangs.sh", "export NEVER=1\nsleep 30\n")
    after = write(tmp_path / "after.sh", "export AFTER=1\n")
    missing = str(tmp_path / "nowhere" / "set_env.sh")
    resolved = await resolve_environment(
        base, [good, missing, exits, fails, hangs, after], {"PROFILE": "yes"}, SubprocessRunner(), timeout=1.5
    )
    env = resolved.env
    assert env["GOOD"] == "1" and env["HALF"] == "done" and env["PROFILE"] == "yes"
    assert "FROM_EXIT" not in env and "NEVER" not in env and "AFTER" not in env
    problems = "\n".join(resolved.problems)
    assert len(resolved.problems) == 5, problems
    assert f"{missing} does not exist" in problems
    assert f"{exits} stopped the shell with status 1" in problems and "no such toolkit" in problems
    assert f"sourcing {fails} ended with status 1" in problems
    assert f"sourcing {hangs} did not finish" in problems
    assert f"{after} was not sourced" in problems
    assert not resolved.ok and resolved.sourced == (good, fails)


async def test_paths_are_arguments_never_script(tmp_path: Path, base: dict[str, str]) -> None:
    odd = tmp_path / "it's a $(touch pwned) file.sh"
    odd.write_text("export ODD=ok\n", encoding="utf-8")
    resolved = await resolve_environment(base, [str(odd)], {}, SubprocessRunner())
    assert resolved.env["ODD"] == "ok" and resolved.problems == ()
    assert os.listdir(tmp_path) == [odd.name]  # nothing was created
    assert "pwned" not in os.listdir(".")


async def test_paths_expand_variables_against_the_env_so_far(tmp_path: Path, base: dict[str, str]) -> None:
    write(tmp_path / "second.sh", "export SECOND=2\n")
    first = write(tmp_path / "first.sh", f"export TOOLKIT={tmp_path}\n")
    resolved = await resolve_environment(base, [first, "${TOOLKIT}/second.sh", "${UNSET_ROOT}/x.sh"], {},
                                         SubprocessRunner())
    assert resolved.env["SECOND"] == "2"
    assert resolved.problems == ("${UNSET_ROOT}/x.sh was not sourced: it names a variable that is not set "
                                 "(${UNSET_ROOT}/x.sh)",)


async def test_no_files_is_base_plus_overrides() -> None:
    resolved = await resolve_environment({"A": "1"}, [], {"B": "${A}2"}, SubprocessRunner())
    assert resolved == ResolvedEnv(env={"A": "1", "B": "12"})
