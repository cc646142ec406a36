"""Lines arrive whole and in order while another process writes them in arbitrary pieces."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.tail.conftest import Writer, read_until, stream_writer
from tui.server.tail import LogTail

MULTIBYTE = [
    "INFO 05-09 07:35:25 [api_server.py:1880] vLLM API server version 0.18.0",
    "INFO 05-09 07:35:26 [loader.py:447] 加载权重 ✓ 100% — 模型已就绪 🚀",
    "",
    "WARNING 05-09 07:35:27 [ascend.py:12] Ümlaut, naïve café, Ελληνικά, עברית, 日本語テキスト",
    "(EngineCore pid=4242) INFO 05-09 07:35:28 [core.py:90] 🙂🙃😀 emoji run",
]


def expected_lines(count: int) -> list[str]:
    lines: list[str] = []
    for index in range(count):
        lines.append(f"{index:05d} {MULTIBYTE[index % len(MULTIBYTE)]}")
        if index % 97 == 0:
            lines.append(f"{index:05d} long " + "长行" * 60_000)  # ~360 KB: spans many reads
    return lines


@pytest.mark.parametrize("chunk_size", [7, 65536])
def test_a_concurrent_writer_s_lines_arrive_whole_and_in_order(
    log_path: Path, tail_of: Callable[..., LogTail], chunk_size: int
) -> None:
    """Random write sizes split lines and UTF-8 sequences; a 7-byte read size splits them again on our side.

    The writer holds still partway, inside a multi-byte character, until we have
    read what is there: the reader provably overlaps the writer.
    """
    lines = expected_lines(600)
    data = "".join(f"{line}\n" for line in lines).encode()
    pause_at = data.index("🚀".encode(), len(data) // 2) + 2  # half a rocket on disk
    tail = tail_of(from_start=True, chunk_size=chunk_size, max_bytes_per_call=256 * 1024)
    process = stream_writer(log_path, lines, seed=chunk_size, pause_at=pause_at)
    assert process.stdin is not None
    try:
        first, _ = read_until(tail, lambda got: tail.offset >= pause_at)
        assert process.poll() is None, "the writer is still waiting mid-stream"
        assert first and data.decode().startswith("\n".join(first)), "only whole lines, none cut at the pause"
        process.stdin.write(b"go\n")
        process.stdin.close()
        rest, batches = read_until(tail, lambda got: len(first) + len(got) >= len(lines), timeout_s=15)
    finally:
        process.wait(timeout=10)
    assert process.returncode == 0
    assert first + rest == lines
    assert not any("\ufffd" in line for line in first + rest), "a multi-byte character was split"
    assert batches[-1].offset == log_path.stat().st_size


def test_a_partial_line_waits_for_its_newline(writer: Callable[..., Writer], tail_of: Callable[..., LogTail]) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write("hello wo")
    batch = tail.read_available()
    assert batch.lines == () and batch.offset == 8 and not batch.missing
    w.write("rld\nsecond")
    assert tail.read_available().lines == ("hello world",)
    w.write(" line\n\n")
    assert tail.read_available().lines == ("second line", "")


def test_a_multibyte_character_split_between_writes_is_decoded_once_whole(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    encoded = "温度 85°C 🔥\n".encode()
    for index in range(len(encoded)):
        w.write(encoded[index : index + 1])
        lines = tail.read_available().lines
        assert lines == (() if index < len(encoded) - 1 else ("温度 85°C 🔥",))


def test_invalid_utf8_is_replaced_not_fatal(writer: Callable[..., Writer], tail_of: Callable[..., LogTail]) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    w.write(b"bad \xff\xfe bytes\nok\n")
    assert tail.read_available().lines == ("bad \ufffd\ufffd bytes", "ok")


def test_a_line_without_end_is_passed_on_in_bounded_pieces_cut_between_characters(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    """A writer that never sends a newline (a tqdm bar redrawn with CRs) must not grow our buffer forever."""
    w = writer()
    tail = tail_of(from_start=True, max_line_bytes=1001)
    w.write("é" * 3000)  # 6000 bytes, 2 per character: 1001 is never a boundary
    pieces = tail.read_available().lines
    assert len(pieces) == 5 and all(len(piece.encode()) <= 1001 for piece in pieces)
    assert "".join(pieces) == "é" * (sum(len(piece) for piece in pieces))
    w.write("\n")
    rest = tail.read_available().lines
    assert "".join(pieces + rest) == "é" * 3000


def test_the_byte_budget_bounds_one_call_and_says_there_is_more(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    w.write("".join(f"line {index:04d}\n" for index in range(1000)))  # 10 bytes per line
    tail = tail_of(from_start=True, chunk_size=1024, max_bytes_per_call=4096)
    first = tail.read_available()
    assert first.more and first.offset == 4096 and len(first.lines) == 409
    got, batches = read_until(tail, lambda got: len(got) >= 1000 - 409)
    assert list(first.lines) + got == [f"line {index:04d}" for index in range(1000)]
    assert not batches[-1].more


def test_the_tail_never_reads_with_mmap(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An mmap over a file someone truncates raises SIGBUS (toolong #9); plain reads only."""
    import mmap

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("mmap used")

    monkeypatch.setattr(mmap, "mmap", refuse)
    w = writer()
    w.write("a\n" * 10)
    tail = tail_of(last_lines=3)
    assert tail.read_available().lines == ("a", "a", "a")


def test_an_idle_poll_is_cheap(writer: Callable[..., Writer], tail_of: Callable[..., LogTail]) -> None:
    w = writer()
    w.write("x" * 1000 + "\n")
    tail = tail_of(from_start=True)
    tail.read_available()
    before = tail.bytes_read
    started = time.perf_counter()
    for _ in range(1000):
        assert tail.read_available().lines == ()
    per_poll = (time.perf_counter() - started) / 1000
    assert tail.bytes_read - before <= 1000 * 32, "an idle poll re-reads only the 32-byte truncation sentinel"
    print(f"idle poll: {per_poll * 1e6:.1f} µs")
