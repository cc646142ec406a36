"""Where the output may go, and putting it there all at once.

Everything is written to ``.DST.partial-<pid>`` beside DST and renamed at the end, so DST is complete or
absent. An existing DST (only with ``--force``) is moved aside to ``.DST.old-<pid>`` first and removed
after the rename. The partial folder is locked for the whole run (``leftovers``), so a later run can
tell a killed run's leftovers from a live one's.

A DST that is a symbolic link is refused: replacing "DST" would otherwise replace the folder the link
points to (somewhere else, perhaps shared, perhaps another disk), which is never what ``--force`` on
that name promises. The operator gives the real folder, or a new path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tui.files.atomic import fsync_dir
from tui.stages.dequant.errors import DequantError, DequantInputError
from tui.stages.dequant.leftovers import lock_folder


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


def resolve_dst(dst: Path) -> Path:
    """DST made absolute with its parent's links resolved; DST itself being a symbolic link is refused."""
    given = Path(os.path.abspath(dst))
    if given.is_symlink():
        try:
            target = f" to {os.readlink(given)}"
        except OSError:
            target = ""
        raise DequantInputError(
            f"DST {given} is a symbolic link{target}; give the folder it points to or a new path "
            "(the stage never replaces a folder through a link)."
        )
    return given.parent.resolve() / given.name


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
        raise DequantInputError(f"cannot write in {parent} ({_why_unwritable(parent)}); choose a writable destination.")


def _why_unwritable(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def partial_path(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.partial-{os.getpid()}"


def create_partial(dst: Path) -> tuple[Path, int]:
    """Create and lock this run's ``.DST.partial-<pid>``; returns it and the lock's fd (close it last)."""
    partial = partial_path(dst)
    try:
        partial.mkdir()
    except OSError as exc:
        raise DequantError(
            f"cannot create {partial}: {exc.strerror or exc}; check the destination is writable."
        ) from exc
    try:
        return partial, lock_folder(partial)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise DequantError(f"cannot lock {partial}: {exc.strerror or exc}; check the destination folder.") from exc


def install(partial: Path, dst: Path) -> None:
    """Put the finished folder at DST; an existing DST (only with --force) is moved aside, then removed."""
    try:
        _swap_in(partial, dst)
    except OSError as exc:
        raise DequantError(
            f"cannot put the output at {dst}: {exc.strerror or exc}; DST was left as it was."
        ) from exc


def _swap_in(partial: Path, dst: Path) -> None:
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
