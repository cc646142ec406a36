"""Package versions as the serving environment's interpreter sees them, and which interpreter that is.

The console often runs from a lighter environment than the server, so its own `import vllm` proves
nothing: the versions that matter are those of the Python that runs `vllm serve`. That interpreter is
run with a small script that reads installed distributions' metadata (nothing is imported, so a broken
torch_npu or a missing CANN cannot hang or crash it), under a timeout.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tui.evidence.fields import found, missing
from tui.processes.commands import CommandRunner, find_executable

PACKAGES = ("vllm", "vllm-ascend", "vllm-mindspore", "torch", "torch_npu", "transformers", "modelscope",
            "safetensors")
PROBE_TIMEOUT_S = 20.0
SHEBANG_LIMIT = 256

PROBE = """\
import json, platform, sys
from importlib import metadata
out = {"python": platform.python_version(), "executable": sys.executable, "packages": {}}
for name in json.loads(sys.argv[1]):
    value, error = None, None
    for candidate in dict.fromkeys((name, name.replace("-", "_"), name.replace("_", "-"))):
        try:
            value = metadata.version(candidate)
            break
        except metadata.PackageNotFoundError:
            continue
        except Exception as exc:
            error = type(exc).__name__ + ": " + str(exc)[:200]
    out["packages"][name] = {"version": value, "error": error}
print(json.dumps(out))
"""


def _shebang_python(path: str, env: Mapping[str, str]) -> str | None:
    """The interpreter a Python console script names in its `#!` line (`#!/usr/bin/env python3` resolved)."""
    try:
        with open(path, "rb") as handle:
            first = handle.read(SHEBANG_LIMIT).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    if Path(words[0]).name == "env" and len(words) > 1:
        words = words[1:]
        return find_executable(words[0], env) if "python" in words[0] else None
    return words[0] if "python" in Path(words[0]).name else None


def serving_python(command: Sequence[str], env: Mapping[str, str], stage_python: str | None = None
                   ) -> tuple[str, str]:
    """(interpreter, how it was chosen): the profile's stage Python, else the server command's own, else ours."""
    if stage_python:
        return stage_python, "the profile's stage Python"
    if command:
        first = command[0]
        if "python" in Path(first).name:
            resolved = find_executable(first, env) if os.sep not in first else first
            if resolved:
                return resolved, f"the server command ({first})"
        executable = first if os.sep in first else find_executable(first, env)
        if executable:
            interpreter = _shebang_python(executable, env)
            if interpreter:
                return interpreter, f"the interpreter of {executable}"
    return sys.executable, "the console's own interpreter (no serving interpreter was found)"


async def package_versions(runner: CommandRunner, python: str, how: str, env: Mapping[str, str] | None = None,
                           names: Sequence[str] = PACKAGES, timeout_s: float = PROBE_TIMEOUT_S
                           ) -> dict[str, Any]:
    """`{"interpreter": …, "python": field, "packages": {name: field}}` read by running `python`."""
    source = f"importlib.metadata in {python}"
    result = await runner.run([python, "-c", PROBE, json.dumps(list(names))], timeout=timeout_s, env=env)
    reason: str | None = None
    data: Any = None
    if result.error is not None:
        reason = result.error
    elif result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["it printed nothing on stderr"])[-1]
        reason = f"{python} exited with {result.returncode}: {last[:200]}"
    else:
        try:
            data = json.loads((result.stdout.strip().splitlines() or [""])[-1])
        except ValueError:
            reason = f"{python} printed something other than the probe's JSON"
    if reason is not None or not isinstance(data, dict):
        why = reason or f"{python} printed something other than the probe's JSON"
        return {"interpreter": python, "interpreter_chosen_as": how, "python": missing(why),
                "packages": {name: missing(why) for name in names}}
    packages: dict[str, Any] = {}
    raw_listed = data.get("packages")
    listed: dict[str, Any] = raw_listed if isinstance(raw_listed, dict) else {}
    for name in names:
        raw_entry = listed.get(name)
        entry: dict[str, Any] = raw_entry if isinstance(raw_entry, dict) else {}
        version = entry.get("version")
        if isinstance(version, str) and version:
            packages[name] = found(version, source)
        elif entry.get("error"):
            packages[name] = missing(f"reading its metadata failed: {entry['error']}")
        else:
            packages[name] = missing(f"not installed for {python}")
    python_version = data.get("python")
    return {
        "interpreter": str(data.get("executable") or python),
        "interpreter_chosen_as": how,
        "python": found(python_version, source) if isinstance(python_version, str) else missing("not reported"),
        "packages": packages,
    }
