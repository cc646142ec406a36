"""`npu-console profiles list | show NAME | validate PATH…`: profiles from the shell.

`validate` is what an operator (or CI) runs after editing a profile: it prints
`ok <path>` per good file and, per bad one, one line naming file, line, key and
what was expected, and exits 2 when any file is bad (the exit code for bad
input, as in CONTRACTS.md). The profile code is imported inside `run`, so
building the parser for `--help` stays cheap.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tui.profile import ProfileEntry

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `list`, `show` and `validate` sub-subcommands to the `profiles` parser."""
    commands = parser.add_subparsers(dest="profiles_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list",
        help="the profiles this console can see, and where each comes from",
        description="List the profiles found in ./profiles, the user's config folder and the shipped "
        "ones; a name found earlier hides the same name later. Broken files are listed with their error.",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    show = commands.add_parser(
        "show",
        help="print one profile as TOML, with its path",
        description="Print a profile (by name or path) as the console understands it: TOML with every "
        "setting, defaults included. --raw prints the file as written, comments included.",
    )
    show.add_argument("name", metavar="NAME|PATH", help="a profile name (see `profiles list`) or a file")
    show.add_argument("--raw", action="store_true", help="print the file's own text instead")
    validate = commands.add_parser(
        "validate",
        help="check profile files, naming file, line and key of each mistake",
        description="Check each profile file (a folder means every *.toml in it); print `ok PATH` or "
        "the error. Exits 2 if any is invalid.",
    )
    validate.add_argument(
        "paths", metavar="PATH", nargs="+", help="profile files, folders of them, or profile names"
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen sub-subcommand; return the exit status."""
    command = getattr(args, "profiles_command", None)
    if command == "list":
        return _list(json_output=bool(getattr(args, "json", False)), out=sys.stdout)
    if command == "show":
        return _show(str(args.name), raw=bool(getattr(args, "raw", False)), out=sys.stdout)
    if command == "validate":
        return _validate([str(path) for path in args.paths], out=sys.stdout, err=sys.stderr)
    print("npu-console profiles: choose list, show NAME or validate PATH.", file=sys.stderr)
    return EXIT_BAD_INPUT


def _list(*, json_output: bool, out: TextIO) -> int:
    from tui.profile import discover_profiles, profile_search_dirs, profile_summary

    dirs = profile_search_dirs()
    entries = discover_profiles(dirs)
    if json_output:
        print(json.dumps([dict(profile_summary(entry)) for entry in entries], indent=2, ensure_ascii=False),
              file=out)
        return EXIT_OK
    if not entries:
        searched = ", ".join(str(folder) for _, folder in dirs)
        print(f"No profiles found (searched {searched}).", file=out)
        return EXIT_OK
    rows = [("NAME", "ORIGIN", "RUNTIME", "MODEL", "PATH"), *(_row(entry) for entry in entries)]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row, entry in zip(rows, [None, *entries], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]).rstrip(), file=out)
        if entry is not None and entry.error is not None:
            print(f"  ! {entry.error}", file=out)
    return EXIT_OK


def _row(entry: ProfileEntry) -> tuple[str, str, str, str, str]:
    profile = entry.profile
    if profile is None:
        return (entry.name, entry.origin, "-", "(invalid)", str(entry.path))
    return (entry.name, entry.origin, profile.runtime, profile.model.id, str(entry.path))


def _show(name: str, *, raw: bool, out: TextIO) -> int:
    from tui.profile import ProfileError, dumps_profile, load_profile, resolve_profile

    try:
        path = resolve_profile(name)
        if raw:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = dumps_profile(load_profile(path), include_defaults=True)
    except ProfileError as exc:
        print(f"npu-console profiles show: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, UnicodeDecodeError) as exc:
        print(f"npu-console profiles show: cannot read {name}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"# {path}", file=out)
    print(text.rstrip("\n"), file=out)
    return EXIT_OK


def _validate(paths: list[str], *, out: TextIO, err: TextIO) -> int:
    from tui.profile import ProfileError, load_profile, resolve_profile

    status = EXIT_OK
    for text in _expand_folders(paths):
        try:
            path = resolve_profile(text)
            load_profile(path)
        except ProfileError as exc:
            print(str(exc), file=err)
            status = EXIT_BAD_INPUT
        else:
            print(f"ok {path}", file=out)
    return status


def _expand_folders(paths: list[str]) -> list[str]:
    """A folder stands for the `*.toml` files in it, so CI can run `validate profiles/`."""
    out: list[str] = []
    for text in paths:
        folder = Path(text)
        if folder.is_dir():
            out.extend(str(path) for path in sorted(folder.glob("*.toml")) if not path.name.startswith("."))
        else:
            out.append(text)
    return out
