"""A separate process that writes a log file the way a server (or `tee`) does, driven by the test.

Run as a script: `python writer_process.py PATH (append|overwrite) [stream SPEC_FILE]`.

- Command mode (default): reads JSON commands on stdin, one per line, and answers
  `ok` on stdout after each, so a test knows exactly what is on disk before it
  reads. Commands: `open`, `write` (`hex` bytes, written with one `os.write`:
  unbuffered, what a flush does), `truncate` (ftruncate to 0 and seek to 0, as a
  writer that starts its log over), `reopen` (close and open the path again, as
  a server does on SIGHUP after logrotate), `close`.
- Stream mode: writes the lines in SPEC_FILE (JSON `{"lines": [...], "seed": N}`) as
  UTF-8, cut into random-sized writes (so lines and multi-byte characters are
  split across writes), with short pauses, then exits. The test reads while it
  runs.

`overwrite` opens without O_APPEND, like a shell `>` redirect; `append` with it,
like `>>` or Python's logging FileHandler.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "append" else 0)
    if len(sys.argv) > 3 and sys.argv[3] == "stream":
        with open(sys.argv[4], encoding="utf-8") as spec:
            stream(path, flags, json.load(spec))
        return
    fd: int | None = None
    for raw in sys.stdin:
        command = json.loads(raw)
        op = command["op"]
        if op == "open":
            fd = os.open(path, flags, 0o644)
        elif op == "write":
            assert fd is not None
            os.write(fd, bytes.fromhex(command["hex"]))
        elif op == "truncate":
            assert fd is not None
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        elif op == "reopen":
            assert fd is not None
            os.close(fd)
            fd = os.open(path, flags, 0o644)
        elif op == "close":
            assert fd is not None
            os.close(fd)
            fd = None
        sys.stdout.write("ok\n")
        sys.stdout.flush()


def stream(path: str, flags: int, spec: dict[str, object]) -> None:
    lines = spec["lines"]
    assert isinstance(lines, list)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    rng = random.Random(int(str(spec.get("seed", 0))))
    fd = os.open(path, flags, 0o644)
    position = 0
    writes = 0
    pause = spec.get("pause_at")
    pause_at = pause if isinstance(pause, int) else -1
    while position < len(data):
        size = rng.choice((1, 2, 3, 5, 17, 100, 999, 4096, 70000))
        if position < pause_at <= position + size:
            size = pause_at - position
        chunk = data[position : position + size]
        os.write(fd, chunk)
        position += len(chunk)
        if position == pause_at:
            sys.stdin.readline()  # hold still, mid-stream, until the test has read what is there
        writes += 1
        if writes % 10 == 0:
            time.sleep(0.001)  # let the reader in: it must see the file mid-write
    os.close(fd)


if __name__ == "__main__":
    main()
