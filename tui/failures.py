"""Failures as one sentence on screen and the whole story in a log file, never a traceback on screen.

`failure_sentence` turns an exception into what the operator reads (an OSError
says which file and why in plain words: the disk is full, the folder is
read-only); `ConsoleLog` appends the detail (the sentence, the exception chain
without local variables, redacted) to the run's `console.log`, or — when the
run folder itself cannot be written — to a private fallback file, and says
where it went. Headless: the app and the CLI both use it.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
import traceback
from pathlib import Path

from tui.files.atomic import append_line
from tui.redact import redact

CONSOLE_LOG = "console.log"
_MAX_RECORD = 64 * 1024  # one failure's detail; a runaway message is cut, not kept whole
_MAX_SENTENCE = 300

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted",
    errno.ENOENT: "it does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.EIO: "an input/output error (the disk or the terminal went away)",
    errno.EMFILE: "too many open files",
    errno.ENAMETOOLONG: "the name is too long",
}


def os_error_reason(error: OSError) -> str:
    """Why an OSError happened, in words, naming the file when it has one."""
    reason = _REASONS.get(error.errno or -1) or (error.strerror or str(error)).rstrip(".")
    if error.filename:
        return f"{reason} ({error.filename})"
    return reason


def failure_sentence(error: BaseException, doing: str | None = None) -> str:
    """One redacted sentence for `error`: `doing` (e.g. "The chat reply") failed, and why."""
    if isinstance(error, OSError):
        why = os_error_reason(error)
    else:
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
        why = f"{type(error).__name__}: {first}" if first else type(error).__name__
    head = f"{doing} failed: " if doing else ""
    sentence = redact(f"{head}{why}")
    if len(sentence) > _MAX_SENTENCE:
        sentence = sentence[:_MAX_SENTENCE - 1] + "…"
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def failure_detail(error: BaseException) -> str:
    """The exception chain as text, without local variables (they can hold the environment), redacted."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if len(text) > _MAX_RECORD:
        text = text[:_MAX_RECORD] + f"\n… cut at {_MAX_RECORD} characters\n"
    return redact(text)


def fallback_log_dir() -> Path:
    """Where the detail goes when the run folder cannot take it: a private folder in the temp dir."""
    return Path(tempfile.gettempdir()) / f"npu-console-{os.getuid()}"


class ConsoleLog:
    """Appends failure records to `<run folder>/console.log` (or the fallback) and says which file took it."""

    def __init__(self, fallback_dir: Path | None = None) -> None:
        self._fallback_dir = fallback_dir

    def record(self, run_dir: Path | None, sentence: str, error: BaseException | None = None) -> Path | None:
        """Append the sentence and the error's detail; the path written, or None when no file would take it."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        body = redact(sentence) + ("\n" + failure_detail(error) if error is not None else "")
        record = f"--- {stamp} pid {os.getpid()}\n{body.rstrip()}\n"
        candidates = [run_dir / CONSOLE_LOG] if run_dir is not None else []
        candidates.append((self._fallback_dir or fallback_log_dir()) / CONSOLE_LOG)
        for path in candidates:
            try:
                if path.parent != run_dir:
                    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                append_line(path, record)
            except OSError:
                continue
            return path
        return None
