"""Saving: what is written loads back equal, and the write is atomic."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from tests.profiles.helpers import GOOD, SHIPPED_FILES, toml_loads
from tui.profile import (
    ModelSpec,
    Profile,
    ProfileError,
    Variant,
    dumps_profile,
    load_profile,
    loads_profile,
    profile_to_dict,
    save_profile,
)

ROUND_TRIP = [*SHIPPED_FILES, *sorted(GOOD.glob("*.toml"))]


@pytest.mark.parametrize("source", ROUND_TRIP, ids=[path.name for path in ROUND_TRIP])
def test_load_save_load_is_equal(source: Path, tmp_path: Path) -> None:
    original = load_profile(source)
    target = save_profile(original, tmp_path / source.name)
    assert target == tmp_path / source.name
    again = load_profile(target)
    assert again == original
    assert again.path == target
    assert profile_to_dict(again) == profile_to_dict(original)
    # Saving again gives the same bytes: dumps are deterministic.
    assert dumps_profile(again) == target.read_text(encoding="utf-8")


@pytest.mark.parametrize("source", ROUND_TRIP, ids=[path.name for path in ROUND_TRIP])
def test_full_dump_round_trips(source: Path) -> None:
    original = load_profile(source)
    assert loads_profile(dumps_profile(original, include_defaults=True)) == original


def test_dump_leaves_defaults_out_but_keeps_the_essentials() -> None:
    profile = load_profile(GOOD / "minimal.toml")
    assert profile_to_dict(profile) == {
        "name": "minimal",
        "runtime": "vllm-ascend",
        "model": {"id": "Qwen/Qwen2-0.5B", "source": "modelscope"},
        "server": {"command": ["vllm", "serve"], "host": "127.0.0.1", "port": 8000},
    }
    full = profile_to_dict(profile, include_defaults=True)
    assert full["stages"]["bench"]["serve"]["num_prompts"] == 32
    assert "max_concurrency" not in full["stages"]["bench"]["serve"]  # None: TOML has no null


def test_raw_text_is_kept(tmp_path: Path) -> None:
    text = '[model]\nid = "x"\nsource = "local"\npath = "${NPU_CONSOLE_SIM_HOME}/m"\n'
    saved = save_profile(loads_profile(text), tmp_path / "p.toml")
    assert toml_loads(saved.read_text())["model"]["path"] == "${NPU_CONSOLE_SIM_HOME}/m"


def test_empty_variant_survives(tmp_path: Path) -> None:
    profile = loads_profile('default_variant = "plain"\n[model]\nid = "x"\n[variants.plain]\n')
    again = load_profile(save_profile(profile, tmp_path / "p.toml"))
    assert again.variants == {"plain": Variant(name="plain")}
    assert again.default_variant == "plain"


def test_save_replaces_the_target_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "profiles" / "p.toml"
    target.parent.mkdir()
    target.write_text("old contents\n")
    old_inode = target.stat().st_ino
    profile = Profile(name="p", model=ModelSpec(id="Qwen/Qwen2-0.5B"))
    save_profile(profile, target)
    assert load_profile(target) == profile
    assert target.stat().st_ino != old_inode  # a new file was renamed over the old one
    assert sorted(path.name for path in target.parent.iterdir()) == ["p.toml"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "p.toml"
    target.write_text("old contents\n")

    def broken_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        save_profile(Profile(name="p", model=ModelSpec(id="x")), target)
    assert target.read_text() == "old contents\n"
    assert [path.name for path in tmp_path.iterdir()] == ["p.toml"]


def test_save_refuses_a_profile_that_would_not_load(tmp_path: Path) -> None:
    broken = Profile(name="p", model=ModelSpec(id="x"), default_variant="missing")
    with pytest.raises(ProfileError, match="no variant named 'missing'"):
        save_profile(broken, tmp_path / "p.toml")
    assert not (tmp_path / "p.toml").exists()


def test_profile_built_in_code_round_trips(tmp_path: Path) -> None:
    profile = Profile(
        name="coded",
        model=ModelSpec(id="Qwen/Qwen2-0.5B"),
        variants={"eager": Variant(name="eager", flags={"enforce-eager": True}, env={"A": "1"})},
        default_variant="eager",
    )
    again = load_profile(save_profile(profile, tmp_path / "coded.toml"))
    assert again == profile
    assert dataclasses.replace(again, path=None) == profile
