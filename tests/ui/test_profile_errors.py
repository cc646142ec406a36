"""`profiles validate` names every error of a profile in one run, each at its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui.profile import ProfileError, loads_profile

THREE_TYPOS = """\
name = "typos"
runtime = "vllm-ascend"

[model]
id = "Qwen/Qwen2.5-0.5B-Instruct"
sorce = "modelscope"

[server]
prot = 8001

[variants.eager]
description = "eager"
flgs = { enforce-eager = true }
"""


def test_three_typos_are_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        loads_profile(THREE_TYPOS, tmp_path / "typos.toml")
    lines = str(caught.value).splitlines()
    assert len(lines) == 3, lines
    assert ":6: model.sorce: unknown key 'sorce'; did you mean 'source'?" in lines[0]
    assert ":9: server.prot: unknown key 'prot'; did you mean 'port'?" in lines[1]
    assert ":13: variants.eager.flgs:" in lines[2] and "'flags'" in lines[2]


def test_validate_prints_every_error_and_exits_2(tmp_path: Path) -> None:
    profile = tmp_path / "typos.toml"
    profile.write_text(THREE_TYPOS)
    done = subprocess.run([sys.executable, "-m", "tui", "profiles", "validate", str(profile)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if "unknown key" in line].__len__() == 3


def test_one_error_reads_as_before(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        loads_profile(THREE_TYPOS.replace("sorce", "source").replace("flgs", "flags"), tmp_path / "one.toml")
    assert str(caught.value).count("\n") == 0 and "server.prot" in str(caught.value)


def test_shipped_ascend_profiles_pass_their_own_worker_start_method_check() -> None:
    from tui.profile import load_profile, shipped_profiles_dir
    from tui.server.preflight.env_checks import SPAWN_RUNTIMES, check_multiproc_method

    checked = 0
    for path in sorted(shipped_profiles_dir().glob("*.toml")):
        profile = load_profile(path)
        if profile.runtime not in SPAWN_RUNTIMES or profile.runtime == "simulated":
            continue
        names: list[str | None] = [*profile.variants] or [None]
        for name in names:
            env = profile.effective_env(profile.variant(name))
            assert check_multiproc_method(profile.runtime, env).status == "pass", (path.name, name)
        checked += 1
    assert checked >= 3
