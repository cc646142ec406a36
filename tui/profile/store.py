"""Reading, writing and finding profile files.

Reading turns every way a file can be wrong (unreadable, not UTF-8, not TOML,
not a valid profile) into one `ProfileError` that names the file and line.
Writing goes through `tui.files.atomic`, after checking that what is written loads
back, so a save can never leave a half-written or unloadable profile. Finding
walks three folders in order (the working directory's `profiles/`, the user's
config folder, the profiles shipped with the console), and a profile found
earlier hides a later one of the same name: copy a shipped profile into your
config folder, edit it, and yours is the one used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tui.files.atomic import atomic_write_text
from tui.files.xdg import config_home
from tui.profile.kinds import Source
from tui.profile.locate import KeyLocator, syntax_error_position
from tui.profile.model import Profile, ProfileError, did_you_mean
from tui.profile.schema import build_profile, dump_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

SearchDirs = list[tuple[str, Path]]


def loads_profile(text: str, path: str | os.PathLike[str] | None = None) -> Profile:
    """Parse and validate profile text; `path` is used in messages and as the default name."""
    where = Path(path) if path is not None else None
    try:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _syntax_error(exc, text, where) from None
        _refuse_nul(data, text, where)
        return build_profile(data, Source(text, where))
    except RecursionError:
        raise ProfileError("invalid TOML: arrays or tables are nested too deeply to read (a profile needs a few "
                           "levels at most)", path=where) from None


def _refuse_nul(data: dict[str, Any], text: str, where: Path | None) -> None:
    """A NUL character (`\\u0000`) in a key or string: no argv, environment or path can carry one.

    Walked with a stack, not recursion, so a deeply nested value cannot overflow here.
    """
    stack: list[tuple[tuple[str, ...], object]] = [((), data)]
    while stack:
        path, value = stack.pop()
        items: list[tuple[tuple[str, ...], object]] = []
        if isinstance(value, dict):
            for key, item in value.items():
                if "\0" in key:
                    _nul_error((*path, key), text, where)
                items.append(((*path, key), item))
        elif isinstance(value, list):
            items = [((*path, str(index)), item) for index, item in enumerate(value)]
        elif isinstance(value, str) and "\0" in value:
            _nul_error(path, text, where)
        stack.extend(items)


def _nul_error(path: tuple[str, ...], text: str, where: Path | None) -> None:
    keys = tuple(part for part in path if not part.isdigit())
    dotted = ".".join(part.replace("\0", "\\u0000") for part in path)
    raise ProfileError("contains a NUL character (\\u0000); no command line, environment variable or path can "
                       "carry one, so remove it", path=where, line=KeyLocator(text).line_of(keys), key=dotted)


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and validate the profile at `path`; every failure is a ProfileError naming the file."""
    where = Path(path)
    try:
        raw = where.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ProfileError(f"cannot read the profile: {reason}", path=where) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"expected UTF-8 text, got the byte 0x{raw[exc.start]:02x}"
        raise ProfileError(message, path=where, line=line) from None
    return loads_profile(text, where)


def profile_to_dict(profile: Profile, *, include_defaults: bool = False) -> dict[str, Any]:
    """The profile as plain TOML-ready data; values equal to their defaults are left out unless asked for.

    Unset optional values (None) are always left out: TOML has no null.
    """
    return dump_profile(profile, include_defaults)


def dumps_profile(profile: Profile, *, include_defaults: bool = False) -> str:
    """The profile as TOML text (comments of the original file are not kept)."""
    return tomli_w.dumps(profile_to_dict(profile, include_defaults=include_defaults))


def save_profile(profile: Profile, path: str | os.PathLike[str]) -> Path:
    """Write the profile to `path` atomically and return the path.

    The text is loaded back before anything is written, so a profile built in code
    that would not load (a default_variant with no such variant, say) raises a
    ProfileError here rather than leaving a broken file for the next start.
    """
    target = Path(path)
    text = dumps_profile(profile)
    loads_profile(text, target)
    return atomic_write_text(target, text)


def _syntax_error(exc: Exception, text: str, path: Path | None) -> ProfileError:
    message, line, column = syntax_error_position(str(exc), KeyLocator(text).last_line)
    if line is None:  # tomli >= 2.1 and Python >= 3.14 also carry the position as attributes
        line = getattr(exc, "lineno", None)
    where = f" (column {column})" if column is not None else ""
    return ProfileError(f"invalid TOML: {message}{where}", path=path, line=line)


# Finding profiles -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileEntry:
    """A profile file found during discovery; a broken one carries its error instead of a profile."""

    name: str
    path: Path
    origin: str
    error: ProfileError | None = field(default=None, compare=False)
    profile: Profile | None = field(default=None, compare=False)


def shipped_profiles_dir() -> Path:
    """The profiles that come with the console.

    Installed from a wheel they sit inside the package (`tui/_profiles`, put there by
    the build's force-include); in a source checkout or an editable install they are
    the repository's top-level `profiles/`.
    """
    return find_shipped_profiles(Path(__file__).resolve().parent.parent)


def find_shipped_profiles(package: Path) -> Path:
    """The shipped profiles for the `tui` package at `package`: `_profiles` inside it, else `../profiles`."""
    for candidate in (package / "_profiles", package.parent / "profiles"):
        if candidate.is_dir():
            return candidate
    return package.parent / "profiles"


def profile_search_dirs(cwd: Path | None = None) -> SearchDirs:
    """(origin, folder) in lookup order: ./profiles, the user's config folder, the shipped ones.

    Folders that do not exist are kept (to show where one may put profiles). When the
    same folder comes up twice (running from the repository root, ./profiles is the
    shipped folder) it is listed once, under its later, more telling origin.
    """
    here = Path.cwd() if cwd is None else Path(cwd)
    dirs: SearchDirs = [
        ("cwd", here / "profiles"),
        ("user", config_home() / "profiles"),
        ("shipped", shipped_profiles_dir()),
    ]
    keys = [_same_file_key(folder) for _, folder in dirs]
    return [entry for index, entry in enumerate(dirs) if keys[index] not in keys[index + 1 :]]


def _same_file_key(folder: Path) -> str:
    try:
        return str(folder.resolve())
    except OSError:
        return str(folder.absolute())


def discover_profiles(dirs: Iterable[tuple[str, Path]] | None = None) -> list[ProfileEntry]:
    """Every profile in the search folders, in lookup order; never raises.

    A name found in an earlier folder hides the same name later on. A file that does
    not load is listed under its file name with its error, so the picker can show
    what is wrong with it instead of silently leaving it out.
    """
    entries: list[ProfileEntry] = []
    seen: set[str] = set()
    for origin, folder in profile_search_dirs() if dirs is None else dirs:
        for path in _profile_files(Path(folder)):
            try:
                profile = load_profile(path)
            except ProfileError as exc:
                entry = ProfileEntry(path.stem, path, origin, error=exc)
            else:
                entry = ProfileEntry(profile.name, path, origin, profile=profile)
            if entry.name in seen:
                continue
            seen.add(entry.name)
            entries.append(entry)
    return entries


def _profile_files(folder: Path) -> list[Path]:
    """The folder's `*.toml` files by name; hidden files (atomic-write temporaries) are skipped."""
    try:
        found = [path for path in folder.iterdir() if path.suffix == ".toml"]
    except OSError:
        return []
    visible = (path for path in found if not path.name.startswith(".") and path.is_file())
    return sorted(visible, key=lambda path: path.name)


def resolve_profile(name_or_path: str, dirs: Iterable[tuple[str, Path]] | None = None) -> Path:
    """The file `--profile` means: an explicit path first, else a profile name through the search folders.

    Text is a path when such a file exists, or when it contains a '/' or ends with
    '.toml' (then a missing file is an error, not a name lookup). A name matches a
    profile's `name` or its file's stem.
    """
    text = name_or_path.strip()
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return candidate
    if "/" in text or os.sep in text or text.endswith(".toml"):
        reason = "is a folder, not a profile file" if candidate.is_dir() else "does not exist"
        raise ProfileError(f"the profile file {reason}", path=candidate)
    folders = profile_search_dirs() if dirs is None else list(dirs)
    entries = discover_profiles(folders)
    for entry in entries:
        if entry.name == text:
            return entry.path
    for entry in entries:
        if entry.path.stem == text:
            return entry.path
    raise ProfileError(_not_found_message(text, entries, folders))


def _not_found_message(name: str, entries: list[ProfileEntry], folders: Iterable[tuple[str, Path]]) -> str:
    searched = ", ".join(str(folder) for _, folder in folders)
    if not entries:
        return f"no profile named '{name}': no profiles found (searched {searched})"
    names = sorted({entry.name for entry in entries})
    hint = did_you_mean(name, names)
    suggestion = f"; did you mean '{hint}'?" if hint else "."
    return f"no profile named '{name}'{suggestion} Available: {', '.join(names)} (searched {searched})"


def profile_summary(entry: ProfileEntry) -> Mapping[str, Any]:
    """One discovery entry as plain data, for `profiles list --json` and the picker."""
    profile = entry.profile
    return {
        "name": entry.name,
        "origin": entry.origin,
        "path": str(entry.path),
        "runtime": profile.runtime if profile else None,
        "model": profile.model.id if profile else None,
        "description": profile.description if profile else None,
        "error": str(entry.error) if entry.error else None,
    }
