"""Finding profiles: search order, shadowing by name, broken files listed, names resolved to files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.profiles.helpers import SHIPPED
from tui.profile import (
    ProfileError,
    discover_profiles,
    profile_search_dirs,
    profile_summary,
    resolve_profile,
    shipped_profiles_dir,
)


def write(folder: Path, file_name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


def profile_text(model: str, name: str | None = None) -> str:
    head = f'name = "{name}"\n' if name else ""
    return f'{head}[model]\nid = "{model}"\n'


@pytest.fixture
def dirs(tmp_path: Path) -> list[tuple[str, Path]]:
    """Three search folders, the way profile_search_dirs orders them."""
    return [("cwd", tmp_path / "cwd"), ("user", tmp_path / "user"), ("shipped", tmp_path / "shipped")]


def test_search_dirs_follow_cwd_and_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert profile_search_dirs(tmp_path / "work") == [
        ("cwd", tmp_path / "work" / "profiles"),
        ("user", tmp_path / "xdg" / "npu-console" / "profiles"),
        ("shipped", shipped_profiles_dir()),
    ]
    monkeypatch.chdir(tmp_path)
    assert profile_search_dirs()[0] == ("cwd", tmp_path / "profiles")


def test_search_dirs_list_a_folder_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Running from the repository root: ./profiles is the shipped folder.
    dirs = profile_search_dirs(SHIPPED.parent)
    assert [origin for origin, _ in dirs] == ["user", "shipped"]
    assert dirs[-1] == ("shipped", SHIPPED)


def test_discovery_order_and_shadowing(dirs: list[tuple[str, Path]]) -> None:
    cwd, user, shipped = (folder for _, folder in dirs)
    write(shipped, "alpha.toml", profile_text("shipped/alpha"))
    write(shipped, "beta.toml", profile_text("shipped/beta"))
    write(user, "beta.toml", profile_text("user/beta"))
    # Shadowing goes by the profile's name, not its file name.
    write(cwd, "my-copy.toml", profile_text("cwd/alpha", name="alpha"))
    write(cwd, "gamma.toml", profile_text("cwd/gamma"))

    entries = discover_profiles(dirs)
    # Folder by folder in search order, files by file name within a folder.
    assert [(entry.name, entry.origin) for entry in entries] == [
        ("gamma", "cwd"), ("alpha", "cwd"), ("beta", "user"),
    ]
    by_name = {entry.name: entry for entry in entries}
    assert by_name["alpha"].path == cwd / "my-copy.toml"
    assert by_name["alpha"].profile is not None and by_name["alpha"].profile.model.id == "cwd/alpha"
    assert by_name["beta"].profile is not None and by_name["beta"].profile.model.id == "user/beta"
    assert all(entry.error is None for entry in entries)


def test_broken_file_is_listed_with_its_error(dirs: list[tuple[str, Path]]) -> None:
    _, user, shipped = (folder for _, folder in dirs)
    broken = write(user, "broken.toml", '[model]\nid = "x"\n[server]\nport = "80"\n')
    write(user, "syntax.toml", "[model\n")
    write(shipped, "fine.toml", profile_text("ok"))
    entries = discover_profiles(dirs)
    assert [(entry.name, entry.origin, entry.error is not None) for entry in entries] == [
        ("broken", "user", True), ("syntax", "user", True), ("fine", "shipped", False),
    ]
    error = entries[0].error
    assert error is not None
    assert str(error) == f"{broken}:4: server.port: expected an integer 1-65535, got the string '80'"
    assert entries[0].profile is None
    summary = profile_summary(entries[0])
    assert summary["runtime"] is None and summary["error"] == str(error)


def test_broken_file_shadows_by_its_stem(dirs: list[tuple[str, Path]]) -> None:
    _, user, shipped = (folder for _, folder in dirs)
    write(user, "demo.toml", "not toml at all")
    write(shipped, "demo.toml", profile_text("x"))
    entries = discover_profiles(dirs)
    assert [(entry.name, entry.origin) for entry in entries] == [("demo", "user")]
    assert entries[0].error is not None


def test_hidden_and_other_files_are_skipped(dirs: list[tuple[str, Path]]) -> None:
    _, user, _ = (folder for _, folder in dirs)
    write(user, ".p.toml.abc123.tmp", profile_text("x"))
    write(user, ".hidden.toml", profile_text("x"))
    write(user, "notes.txt", "hello")
    (user / "folder.toml").mkdir()
    write(user, "real.toml", profile_text("x"))
    assert [entry.name for entry in discover_profiles(dirs)] == ["real"]


def test_missing_folders_are_fine(dirs: list[tuple[str, Path]]) -> None:
    assert discover_profiles(dirs) == []


def test_default_discovery_uses_cwd_xdg_and_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    write(tmp_path / "profiles", "demo.toml", profile_text("cwd/demo", name="demo"))
    write(tmp_path / "xdg" / "npu-console" / "profiles", "mine.toml", profile_text("user/mine"))
    entries = {entry.name: entry for entry in discover_profiles()}
    assert entries["demo"].origin == "cwd"
    assert entries["mine"].origin == "user"
    assert entries["qwen2.5-coder-0.5b-ascend"].origin == "shipped"


def test_resolve_by_name_and_by_stem(dirs: list[tuple[str, Path]]) -> None:
    cwd, user, _ = (folder for _, folder in dirs)
    named = write(cwd, "file-stem.toml", profile_text("x", name="nice-name"))
    other = write(user, "other.toml", profile_text("y"))
    assert resolve_profile("nice-name", dirs) == named
    assert resolve_profile("file-stem", dirs) == named
    assert resolve_profile("other", dirs) == other


def test_resolve_broken_profile_by_name(dirs: list[tuple[str, Path]]) -> None:
    _, user, _ = (folder for _, folder in dirs)
    broken = write(user, "broken.toml", "[model\n")
    assert resolve_profile("broken", dirs) == broken


def test_resolve_explicit_paths(
    tmp_path: Path, dirs: list[tuple[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plain = write(tmp_path, "plain", profile_text("x"))
    assert resolve_profile("plain", dirs) == Path("plain")
    assert resolve_profile(str(plain), dirs) == plain
    with pytest.raises(ProfileError) as caught:
        resolve_profile("missing.toml", dirs)
    assert str(caught.value) == "missing.toml: the profile file does not exist"
    with pytest.raises(ProfileError) as caught:
        resolve_profile("some/dir/x", dirs)
    assert caught.value.message == "the profile file does not exist"
    (tmp_path / "folder").mkdir()
    with pytest.raises(ProfileError) as caught:
        resolve_profile("./folder", dirs)
    assert caught.value.message == "the profile file is a folder, not a profile file"


def test_explicit_path_wins_over_a_name(tmp_path: Path, dirs: list[tuple[str, Path]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, _, _ = (folder for _, folder in dirs)
    write(cwd, "demo.toml", profile_text("by-name"))
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "demo", profile_text("by-path"))
    assert resolve_profile("demo", dirs) == Path("demo")


def test_not_found_lists_the_names(dirs: list[tuple[str, Path]]) -> None:
    cwd, user, shipped = (folder for _, folder in dirs)
    write(cwd, "coder.toml", profile_text("x"))
    write(shipped, "demo.toml", profile_text("x"))
    with pytest.raises(ProfileError) as caught:
        resolve_profile("dem", dirs)
    assert caught.value.message == (
        f"no profile named 'dem'; did you mean 'demo'? Available: coder, demo "
        f"(searched {cwd}, {user}, {shipped})"
    )
    with pytest.raises(ProfileError) as caught:
        resolve_profile("zzz", dirs)
    assert caught.value.message.startswith("no profile named 'zzz'. Available: coder, demo (searched ")
    assert caught.value.path is None and caught.value.line is None


def test_not_found_with_no_profiles(dirs: list[tuple[str, Path]]) -> None:
    with pytest.raises(ProfileError) as caught:
        resolve_profile("demo", dirs)
    assert caught.value.message.startswith("no profile named 'demo': no profiles found (searched ")
