"""Starting near the end of a big log without reading it from the top."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.tail.conftest import Writer
from tui.server.tail import LogTail, find_last_lines_start, read_last_lines

FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A 50 MB log of ~100-byte lines whose last 300 lines are numbered."""
    path = tmp_path_factory.mktemp("big") / "server.log"
    filler = ("INFO 05-09 07:35:25 [engine.py:1] " + "x" * 64 + "\n").encode()
    block = filler * (1024 * 1024 // len(filler) + 1)
    last = [f"INFO 05-09 07:36:{index % 60:02d} [api_server.py:1] final line {index:03d} 完成" for index in range(300)]
    with path.open("wb") as out:
        written = 0
        while written < FIFTY_MB:
            out.write(block)
            written += len(block)
        out.write("".join(f"{line}\n" for line in last).encode())
    return path, last


def test_attaching_to_a_50mb_log_reads_only_its_tail(big_log: tuple[Path, list[str]]) -> None:
    path, last = big_log
    assert path.stat().st_size > FIFTY_MB
    with LogTail(path, last_lines=200) as tail:
        batch = tail.read_available()
        assert batch.lines == tuple(last[-200:])
        assert batch.offset == path.stat().st_size and not batch.more
        assert tail.bytes_read < 256 * 1024, f"read {tail.bytes_read} bytes of a {path.stat().st_size}-byte file"


def test_read_last_lines_of_a_50mb_log(big_log: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    path, last = big_log
    read = 0
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        nonlocal read
        data = real_pread(fd, length, offset)
        read += len(data)
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    assert read_last_lines(path, 5) == tuple(last[-5:])
    assert read < 256 * 1024


def test_attaching_at_the_end_gives_only_new_lines(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    w.write("old 1\nold 2\n")
    tail = tail_of(last_lines=None)
    assert tail.read_available().lines == ()
    w.write("new\n")
    assert tail.read_available().lines == ("new",)


def test_attaching_mid_line_delivers_that_line_whole_once_finished(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    w.write("a\nb\nc\nhalf of d")
    tail = tail_of(last_lines=2)
    assert tail.read_available().lines == ("b", "c")
    w.write(" and the rest\n")
    assert tail.read_available().lines == ("half of d and the rest",)
    end = tail_of(last_lines=None)
    assert end.read_available().lines == ()
    w.write("e\n")
    assert end.read_available().lines == ("e",)


def test_from_start_reads_everything(writer: Callable[..., Writer], tail_of: Callable[..., LogTail]) -> None:
    w = writer()
    w.write("".join(f"{index}\n" for index in range(500)))
    assert tail_of(from_start=True).read_available().lines == tuple(str(index) for index in range(500))
    assert tail_of(last_lines=1000).read_available().lines == tuple(str(index) for index in range(500))


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 64])
@pytest.mark.parametrize(
    ("content", "n", "start"),
    [
        (b"", 5, 0),
        (b"A\nB\nC\n", 2, 2),
        (b"A\nB\nC\n", 3, 0),
        (b"A\nB\nC\n", 9, 0),
        (b"A\nB\nC\n", 0, 6),
        (b"A\nB\nC\nab", 2, 2),  # the unfinished "ab" is not one of the 2
        (b"A\nB\nC\nab", 0, 6),  # n=0 starts at the unfinished line, so it comes whole
        (b"\n\n\n", 1, 2),
        (b"no newline at all", 3, 0),
        (b"long line one\nlong line two\n", 1, 14),
    ],
)
def test_find_last_lines_start(tmp_path: Path, content: bytes, n: int, start: int, chunk_size: int) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)
    try:
        found, scanned = find_last_lines_start(fd, len(content), n, chunk_size=chunk_size)
    finally:
        os.close(fd)
    assert found == start
    assert scanned <= len(content) + 1  # the last byte is looked at once more, to see if it ends a line


def test_the_backward_scan_is_capped_for_giant_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"a\n" + b"x" * 10_000 + b"\n" + b"y" * 10_000 + b"\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        one, _ = find_last_lines_start(fd, 20_004, 1, max_scan=15_000)
        three, scanned = find_last_lines_start(fd, 20_004, 3, max_scan=15_000)
        none, _ = find_last_lines_start(fd, 20_004, 3, max_scan=5_000)
    finally:
        os.close(fd)
    assert one == 10_003  # the y-line fits in the cap
    assert three == 10_003 and scanned <= 15_001  # fewer lines rather than reading on
    assert none == 20_003 - 5_000  # no newline within the cap: start mid-line at the cap


@pytest.mark.parametrize(
    ("content", "n", "lines"),
    [
        (b"", 3, ()),
        (b"a\nb\nc\n", 2, ("b", "c")),
        (b"a\nb\nc", 2, ("b", "c")),  # the unterminated last line counts: its writer may be dead
        (b"a\nb\nc", 1, ("c",)),
        (b"a\nb\nc\n", 0, ()),
        (b"a\nb\nc\n", 10, ("a", "b", "c")),
        (b"\n", 1, ("",)),
        ("错误：设备 3 不可用\n".encode(), 1, ("错误：设备 3 不可用",)),
    ],
)
def test_read_last_lines(tmp_path: Path, content: bytes, n: int, lines: tuple[str, ...]) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(content)
    assert read_last_lines(path, n, chunk_size=2) == lines


def test_read_last_lines_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_last_lines(tmp_path / "nope.log", 3)
