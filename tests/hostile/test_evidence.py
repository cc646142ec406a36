"""Issue 14 findings 5 and 6: environment order, launch.sh under dash, files that follow the umask,
journal records that are whole or absent."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.hostile.helpers import fill, tmpfs
from tui.clock import SystemClock
from tui.files.atomic import append_json_line, atomic_write_json, atomic_write_text
from tui.files.runs import RUN_META, create_run_dir
from tui.playground.journal import ChatJournal, read_conversations
from tui.processes.commands import SubprocessRunner
from tui.profile import loads_profile
from tui.server.environment import resolve_environment
from tui.server.launch_plan import launch_plan

PROFILE = """
name = "order"
[model]
id = "m"
source = "local"
path = "/models/m"
[server]
command = ["sh", "-c", "printf '%s\\n' \\"$LD_LIBRARY_PATH\\" \\"$CANN_HOME\\" \\"$EXTRA\\"", "x"]
[environment]
source = ["{set_env}"]
[environment.vars]
LD_LIBRARY_PATH = "/opt/mine:${{LD_LIBRARY_PATH}}"
EXTRA = "${{CANN_HOME}}/extra $ \\"q\\" `x`"
"""


def _set_env(tmp_path: Path) -> Path:
    script = tmp_path / "set_env.sh"
    script.write_text('export LD_LIBRARY_PATH="/cann/lib64:${LD_LIBRARY_PATH}"\nCANN_HOME=/cann\n')
    return script


async def test_profile_variables_expand_after_the_sourced_files(tmp_path: Path) -> None:
    """Finding 5: `${LD_LIBRARY_PATH}` in a profile variable keeps what set_env.sh added."""
    profile = loads_profile(PROFILE.format(set_env=_set_env(tmp_path)))
    base = {"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": "/usr/lib"}
    plan = launch_plan(profile, None, base)
    resolved = await resolve_environment(base, plan.source_files, plan.env, SubprocessRunner(base))
    assert resolved.ok, resolved.problems
    assert resolved.env["LD_LIBRARY_PATH"] == "/opt/mine:/cann/lib64:/usr/lib"
    assert resolved.env["EXTRA"] == '/cann/extra $ "q" `x`'


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash is not installed")
def test_launch_script_runs_under_dash_in_the_same_order(tmp_path: Path) -> None:
    """Finding 6: launch.sh is POSIX sh (`.`, not `source`); dash gives the same environment as the console."""
    profile = loads_profile(PROFILE.format(set_env=_set_env(tmp_path)))
    plan = launch_plan(profile, None, {})
    script = plan.shell_script()
    assert "source " not in script and "\n. " in script
    assert script.splitlines()[0].startswith("# Order: the sourced files run first")
    launch = tmp_path / "launch.sh"
    launch.write_text("#!/bin/sh\n" + script + "\n")
    out = subprocess.run(["dash", str(launch)], capture_output=True, text=True, timeout=30,
                         env={"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": "/usr/lib"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["/opt/mine:/cann/lib64:/usr/lib", "/cann", '/cann/extra $ "q" `x`']


def test_files_follow_the_umask_and_journals_stay_private(tmp_path: Path) -> None:
    """Finding 6: atomic writes used to force 0644; under umask 077 everything we write is 0600."""
    old = os.umask(0o077)
    try:
        run = create_run_dir(tmp_path / "runs", "p", SystemClock(), {})
        script = atomic_write_text(run / "launch.sh", "#!/bin/sh\n", mode=0o777)
        result = atomic_write_json(run / "result.json", {"a": 1})
        ChatJournal(run).request("c", "chat", "m", "u", {}, "hi", None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((run / RUN_META).stat().st_mode) == 0o600
    assert stat.S_IMODE(result.stat().st_mode) == 0o600
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert stat.S_IMODE((run / "chat.jsonl").stat().st_mode) == 0o600
    old = os.umask(0o022)
    try:
        shared = atomic_write_json(tmp_path / "shared.json", {})
        append_json_line(tmp_path / "journal.jsonl", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "journal.jsonl").stat().st_mode) == 0o600


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 6: a write that takes only part of a record is continued, not ignored."""
    real_write = os.write

    def dribble(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", dribble)
    journal = ChatJournal(tmp_path)
    for turn in range(3):
        assert journal.request("c", "chat", "m", "u", {"n": turn}, f"prompt {turn} " + "x" * 100, None) is None
    monkeypatch.undo()
    records = [json.loads(line) for line in (tmp_path / "chat.jsonl").read_text().splitlines()]
    assert [r["body"]["n"] for r in records] == [0, 1, 2]


def test_full_disk_never_leaves_half_a_record(tmp_path: Path) -> None:
    """Finding 6: on a full tmpfs a reply that does not fit is reported and taken back; the file stays whole."""
    mount = tmpfs(tmp_path / "tiny", size="64k")
    with mount as folder:
        journal = ChatJournal(folder)
        assert journal.request("c", "chat", "m", "u", {}, "hello", None) is None
        fill(folder)
        problem = journal.reply("c", "y" * 200_000, "", "stop", None, False, {})
        assert problem is not None and "disk is full" in problem and "chat.jsonl" in problem
        (folder / "filler").unlink()
        assert journal.reply("c", "short", "", "stop", None, False, {}) is None
        lines = (folder / "chat.jsonl").read_text().splitlines()
        assert [json.loads(line)["type"] for line in lines] == ["request", "reply"]
        conversation = read_conversations([folder / "chat.jsonl"])[0]
        assert conversation.turns[0].reply == "short"


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", size="64k") as folder:
        atomic_write_json(folder / "result.json", {"old": True})
        fill(folder)
        with pytest.raises(OSError):
            atomic_write_text(folder / "result.json", "x" * 200_000)
        assert json.loads((folder / "result.json").read_text()) == {"old": True}
        assert sorted(p.name for p in folder.iterdir()) == ["filler", "result.json"]


