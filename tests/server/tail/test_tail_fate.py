"""What happens to log files: truncated, rotated (rename + create, copytruncate), absent, deleted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.server.tail.conftest import Writer
from tui.server.tail import LogTail


def test_a_writer_that_truncates_and_writes_again_is_followed_from_the_start(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("old 1\nold 2\nold 3\n")
    assert tail.read_available().lines == ("old 1", "old 2", "old 3")
    w.truncate().write("new 1\n")
    batch = tail.read_available()
    assert batch.truncated and batch.lines == ("new 1",) and batch.offset == len("new 1\n")
    w.write("new 2\n")
    again = tail.read_available()
    assert not again.truncated and again.lines == ("new 2",)


def test_a_truncation_refilled_past_our_offset_before_we_looked_is_still_seen(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    """The size alone cannot tell; the bytes just before our offset can."""
    w = writer()
    tail = tail_of(from_start=True)
    w.write("short\n")
    assert tail.read_available().lines == ("short",)
    w.truncate().write("a much longer first line after the restart\nsecond\n")
    batch = tail.read_available()
    assert batch.truncated
    assert batch.lines == ("a much longer first line after the restart", "second")


def test_a_partial_line_cut_off_by_truncation_is_passed_on_not_glued_to_new_text(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("complete\nunfinished")
    assert tail.read_available().lines == ("complete",)
    w.truncate().write("fresh\n")
    batch = tail.read_available()
    assert batch.truncated and batch.lines == ("unfinished", "fresh")


def test_rotation_by_rename_and_create_drains_the_old_file_then_reads_the_new_one(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    """logrotate's default: rename away, (the server keeps writing the old file), HUP, the server reopens."""
    w = writer()
    tail = tail_of(from_start=True)
    w.write("before 1\nbefore 2\n")
    assert tail.read_available().lines == ("before 1", "before 2")

    log_path.rename(log_path.with_name("server.log.1"))
    w.write("still into the renamed file\n")
    gap = tail.read_available()
    assert gap.missing and gap.lines == ("still into the renamed file",), "the open file still has lines to give"

    w.write("last words in the old file\n")
    w.reopen().write("first in the new file\n")
    batch = tail.read_available()
    assert batch.rotated and not batch.missing and not batch.truncated
    assert batch.lines == ("last words in the old file", "first in the new file")
    assert batch.offset == len("first in the new file\n")
    w.write("second in the new file\n")
    assert tail.read_available().lines == ("second in the new file",)


def test_rotation_of_a_file_with_a_partial_last_line_keeps_that_line(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("whole\ncut off by rotation")
    assert tail.read_available().lines == ("whole",)
    log_path.rename(log_path.with_name("server.log.1"))
    w.reopen().write("new\n")
    batch = tail.read_available()
    assert batch.rotated and batch.lines == ("cut off by rotation", "new")


def test_copytruncate_rotation_with_an_appending_writer(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    """logrotate `copytruncate`: the file is copied away and truncated in place; the writer never knows."""
    w = writer(append=True)
    tail = tail_of(from_start=True)
    w.write("".join(f"line {index}\n" for index in range(50)))
    assert len(tail.read_available().lines) == 50
    shutil.copyfile(log_path, log_path.with_name("server.log.1"))
    os.truncate(log_path, 0)
    w.write("after rotation\n")
    batch = tail.read_available()
    assert batch.truncated and not batch.rotated and batch.lines == ("after rotation",)


def test_copytruncate_with_a_writer_that_does_not_append_leaves_nul_padding_that_is_passed_on(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    """A shell `>` redirect keeps writing at its old offset: the file becomes a hole, then the new text.

    The tail notices (the bytes before its offset changed), re-reads from 0 and
    passes the NUL run on as part of the line; `logfacts.normalize` strips NULs.
    """
    w = writer(append=False)
    tail = tail_of(from_start=True)
    w.write("first life\n")
    assert tail.read_available().lines == ("first life",)
    os.truncate(log_path, 0)
    w.write("second life\n")
    batch = tail.read_available()
    assert batch.truncated
    assert batch.lines == ("\x00" * len("first life\n") + "second life",)


def test_a_file_that_does_not_exist_yet_is_waited_for_and_read_from_its_start(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    tail = tail_of(last_lines=None)  # "only new lines": but a file that appears later is all new
    for _ in range(3):
        batch = tail.read_available()
        assert batch.missing and batch.lines == () and batch.error is None
    w = writer(open_now=False)
    w.open().write("server starting\nloading weights\n")
    batch = tail.read_available()
    assert not batch.missing and not batch.rotated
    assert batch.lines == ("server starting", "loading weights")


def test_a_deleted_file_is_let_go_and_its_successor_followed(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("one\n")
    assert tail.read_available().lines == ("one",)
    w.close()
    log_path.unlink()
    gone = tail.read_available()
    assert gone.missing and gone.lines == ()
    assert tail.read_available().missing
    w.open().write("reborn\n")
    batch = tail.read_available()
    assert batch.rotated and not batch.missing and batch.lines == ("reborn",)


def test_a_file_renamed_away_and_back_is_not_a_rotation(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("a\n")
    assert tail.read_available().lines == ("a",)
    moved = log_path.with_name("moved.log")
    log_path.rename(moved)
    assert tail.read_available().missing
    moved.rename(log_path)
    w.write("b\n")
    batch = tail.read_available()
    assert batch.lines == ("b",) and not batch.rotated and not batch.truncated and not batch.missing


def test_an_unreadable_path_is_a_sentence_and_the_tail_keeps_trying(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.log"
    folder.mkdir()
    with LogTail(folder) as tail:
        batch = tail.read_available()
        assert batch.error is not None and "folder" in batch.error and not batch.missing
    (tmp_path / "file.log").write_text("x\n")
    with LogTail(tmp_path / "file.log", from_start=True) as tail:
        assert tail.read_available().lines == ("x",)
