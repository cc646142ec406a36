"""``python -m tui.stages.dequant SRC DST [--block N] [--force] [--dry-run]``: JSON lines on stdout.

Every line is one event (``progress``, ``log``, ``result``, ``error``); the exit status is 0 done, 1 the
run failed or was cancelled, 2 bad input. A failure is one ``error`` event with one sentence.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tui.stages.dequant.convert import dequantize
from tui.stages.dequant.errors import DequantError, Terminated


def print_event(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def pin_mmap_threshold() -> None:
    """Make glibc serve every allocation ≥ 1 MiB with its own mmap, returned to the OS on free.

    By default glibc raises its mmap threshold after the first big free (up to 32 MiB), so the per-chunk
    buffers then come from the heap, fragment it and are never given back: peak RSS measured ~2.7× the
    largest BF16 tensor over the interpreter instead of ~1.3×. Best effort: a no-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tui.stages.dequant``; returns the exit status (0, 1 failed run, 2 bad input)."""
    parser = argparse.ArgumentParser(prog="python -m tui.stages.dequant", description="FP8 → BF16 dequantization")
    parser.add_argument("src", type=Path, help="FP8 checkpoint folder")
    parser.add_argument("dst", type=Path, help="BF16 output folder (created; must be empty unless --force)")
    parser.add_argument("--block", type=int, default=None, help="block size (default: config.json, else 128)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty DST")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and output size; write nothing")
    args = parser.parse_args(argv)
    pin_mmap_threshold()
    try:
        dequantize(args.src, args.dst, block=args.block, force=args.force, dry_run=args.dry_run, emit=print_event)
    except DequantError as exc:
        print_event({"event": "error", "message": str(exc)})
        return exc.exit_code
    except (KeyboardInterrupt, Terminated):
        print_event({"event": "error", "message": "dequantization was cancelled; nothing was written to DST."})
        return 1
    except MemoryError:
        print_event({"event": "error", "message": "ran out of memory; close other jobs or use a larger host."})
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        message = f"dequantization failed: {exc.strerror or exc}{where}; check the paths and free space."
        print_event({"event": "error", "message": message})
        return 1
    return 0


def program(argv: list[str] | None = None) -> int:
    """``main`` as the stage process runs it (``__main__``): a late SIGTERM or Ctrl-C is ignored.

    ``dequantize`` turns SIGTERM/SIGINT into a clean cancel while it runs and then restores the handlers
    it found: ignoring them here means a signal that arrives once the run has ended (its result or error
    already out) cannot turn the outcome just reported into a death by signal. Not done in ``main``,
    which in-process callers use: their own signal handling stays theirs.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    return main(argv)
