"""Where the output may go, and putting it there all at once.

Everything is written to ``.DST.partial-<pid>`` beside DST and renamed at the end, so DST is complete or
absent. An existing DST (only with ``--force``) is moved aside to ``.DST.old-<pid>`` first and removed
after the rename.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tui.atomic import fsync_dir
from tui.stages.dequant.errors import DequantInputError


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def check_paths(src: Path, dst: Path, force: bool, dry_run: bool) -> None:
    """Refuse, with one sentence, a SRC/DST pair the run must not touch."""
    if not src.is_dir():
        raise DequantInputError(f"SRC {src} is not a folder; point it at the FP8 checkpoint's folder.")
    if dst == src or is_within(dst, src):
        raise DequantInputError(f"DST {dst} is SRC or inside it; choose a destination outside the source folder.")
    if is_within(src, dst):
        raise DequantInputError(
            f"SRC {src} is inside DST {dst}; choose a destination that does not contain the source."
        )
    if dst.exists():
        if not dst.is_dir():
            raise DequantInputError(f"DST {dst} exists and is not a folder; remove it or choose another destination.")
        if any(dst.iterdir()) and not force:
            raise DequantInputError(
                f"DST {dst} is not empty; pass --force to replace it or choose another destination."
            )
    parent = dst.parent
    if not parent.is_dir():
        raise DequantInputError(f"the parent folder of DST, {parent}, does not exist; create it first.")
    if not dry_run and not os.access(parent, os.W_OK | os.X_OK):
        raise DequantInputError(f"cannot write in {parent} (permission denied); choose a writable destination.")


def partial_path(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.partial-{os.getpid()}"


def install(partial: Path, dst: Path) -> None:
    """Put the finished folder at DST; an existing DST (only with --force) is moved aside, then removed."""
    old: Path | None = None
    if dst.exists():
        if any(dst.iterdir()):
            old = dst.parent / f".{dst.name}.old-{os.getpid()}"
            os.rename(dst, old)
        else:
            dst.rmdir()
    try:
        os.rename(partial, dst)
    except BaseException:
        if old is not None:
            os.rename(old, dst)
        raise
    fsync_dir(dst.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
