"""The download stage: a model from ModelScope into its cache, with progress from the bytes on disk.

Run as `python -m tui.stages.download MODEL_ID [--revision R] [--cache-dir DIR]`
under the serving environment's Python (where `modelscope` is installed: the
`stages` extra). It speaks the JSON-lines protocol of `tui.stages.events`;
the result names the local folder the server should be given (ModelScope
escapes `.` as `___` in folder names, so this is not the id).

`snapshot_download` reports no progress we could read, so a thread measures
the bytes that have arrived under the cache folder twice a second. Every
failure is one sentence: modelscope missing, the hub unreachable, the model or
revision unknown.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from tui.stages.events import emit_error, emit_log, emit_progress, emit_result

MB = 1024 * 1024


def folder_bytes(root: Path) -> int:
    """Bytes under `root` now (files being written count as far as they are)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += (Path(folder) / name).stat().st_size
            except OSError:
                continue
    return total


def _watch(root: Path, stop: threading.Event, start_bytes: int, interval_s: float = 0.5) -> None:
    while not stop.wait(interval_s):
        done = max(0, folder_bytes(root) - start_bytes)
        emit_progress(round(done / MB, 1), None, "MB", f"downloading into {root}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.stages.download")
    parser.add_argument("model_id")
    parser.add_argument("--revision", default=None)
    parser.add_argument("--cache-dir", default=None, help="default: $MODELSCOPE_CACHE, else ~/.cache/modelscope/hub")
    args = parser.parse_args(argv)
    try:
        from modelscope import snapshot_download
    except ImportError:
        emit_error(f"modelscope is not installed for {sys.executable}; install it there "
                   "(`pip install modelscope`, or npu-console's `stages` extra) and run the stage again.")
        return 2
    cache = Path(args.cache_dir or os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache" / "modelscope" / "hub")
    cache.mkdir(parents=True, exist_ok=True)
    emit_log(f"downloading {args.model_id}" + (f" @ {args.revision}" if args.revision else "") + f" into {cache}")
    before = folder_bytes(cache)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(cache, stop, before), daemon=True)
    started = time.monotonic()
    watcher.start()
    try:
        path = snapshot_download(args.model_id, revision=args.revision, cache_dir=str(cache))
    except (ConnectionError, TimeoutError, OSError) as error:
        emit_error(f"could not download {args.model_id} from ModelScope ({error}); check the network and proxy "
                   "settings, or download it elsewhere and copy the folder into the cache.")
        return 1
    except Exception as error:  # modelscope raises its own types for an unknown model or revision
        emit_error(f"ModelScope refused {args.model_id}" + (f" @ {args.revision}" if args.revision else "")
                   + f": {error}. Check the model id and revision on modelscope.cn.")
        return 1
    finally:
        stop.set()
        watcher.join(timeout=2)
    local = Path(path)
    size = folder_bytes(local)
    emit_result({
        "model_id": args.model_id,
        "revision": args.revision,
        "path": str(local),
        "bytes": size,
        "downloaded_bytes": max(0, folder_bytes(cache) - before),
        "seconds": round(time.monotonic() - started, 2),
        "has_config": (local / "config.json").exists(),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
