"""`npu-console evidence` as an operator runs it: a real process, the stage under it, the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.stages.evidence.conftest import fake_ascend
from tui.profile import shipped_profiles_dir


def evidence(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "evidence", *argv], capture_output=True, text=True,
                          timeout=600, env=env)


def test_the_profiles_prompts_with_the_environment_in_the_run_folder(sim_url: str, tmp_path: Path) -> None:
    root = fake_ascend(tmp_path / "Ascend")
    saved = tmp_path / "evidence.json"
    done = evidence("--url", sim_url, "--profile", str(shipped_profiles_dir() / "demo.toml"), "--runs-dir",
                    str(tmp_path / "runs"), "--json", str(saved), "--ascend-root", str(root))
    assert done.returncode == 0, done.stderr
    assert "2 of 2 prompt(s) answered the same twice; 0 request(s) failed." in done.stdout
    assert "chat        HTTP 200" in done.stdout
    result = json.loads(saved.read_text())
    assert [item["prompt"] for item in result["prompts"]] == ["say hi", "Write a Python function to reverse a string."]
    assert result["max_tokens"] == 64 and result["mode"] == "chat"
    (folder,) = (tmp_path / "runs" / "demo").glob("*/evidence-*")
    assert json.loads((folder / "result.json").read_text()) == result
    environment = json.loads((folder / "environment.json").read_text())
    assert environment["cann"]["value"] == "8.0.RC2" and environment["driver"]["value"] == "24.1.rc2"
    assert result["environment"] == environment
    assert len((folder / "prompts.jsonl").read_text().splitlines()) == 4


def test_a_dead_url_exits_1_and_a_bad_profile_exits_2(tmp_path: Path) -> None:
    dead = evidence("--url", "http://127.0.0.1:9", "--runs-dir", str(tmp_path), "--no-environment")
    assert dead.returncode == 1 and dead.stderr.count("127.0.0.1:9") >= 1
    assert "Traceback" not in dead.stderr
    bad = evidence("--url", "http://127.0.0.1:9", "--profile", "no-such-profile", "--runs-dir", str(tmp_path),
                   env={**os.environ})
    assert bad.returncode == 2 and "no-such-profile" in bad.stderr and "Traceback" not in bad.stderr
