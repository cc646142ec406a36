"""vLLM-MindSpore's variables, judged by what the installed release reads.

Its releases changed the variables under the operator's feet: newer ones start with `vllm-mindspore
serve`, read `VLLM_MS_MODEL_BACKEND` (the old `vLLM_MODEL_BACKEND` still works, with a warning), reject
`MINDFORMERS_MODEL_CONFIG` with a ValueError, and no longer read `ASCEND_TOTAL_MEMORY_GB` or
`vLLM_MODEL_MEMORY_USE_GB`. Older ones read only the old names. No version table written here can
follow that, so the check reads the installed package's own source for the names it mentions: the
serving interpreter says where the package is (without importing MindSpore), and its `.py` files are
searched, bounded.

Blocking (a subprocess, reading files): run in a thread.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tui.server.engine_flags import serving_interpreter
from tui.server.preflight.check import Check, failed, passed, warned

KEY = "mindspore_env"
NEW_BACKEND = "VLLM_MS_MODEL_BACKEND"
OLD_BACKEND = "vLLM_MODEL_BACKEND"
MF_CONFIG = "MINDFORMERS_MODEL_CONFIG"
MEMORY_NAMES = ("ASCEND_TOTAL_MEMORY_GB", "vLLM_MODEL_MEMORY_USE_GB")
_LOCATE = (
    "import importlib.util, importlib.metadata, json\n"
    "spec = importlib.util.find_spec('vllm_mindspore')\n"
    "try:\n    version = importlib.metadata.version('vllm-mindspore')\n"
    "except importlib.metadata.PackageNotFoundError:\n    version = None\n"
    "print(json.dumps({'origin': spec.origin if spec else None, 'version': version}))\n"
)
_SCAN_LIMIT = 64 << 20
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class InstalledMindSpore:
    """What the installed vllm-mindspore reads (`names`: the variable names its source mentions)."""

    version: str | None
    names: frozenset[str]
    rejects_mf_config: bool

    @property
    def new_style(self) -> bool:
        return NEW_BACKEND in self.names


def scan_package(folder: Path, version: str | None) -> InstalledMindSpore:
    """The variable names the package's source mentions, and whether it refuses MINDFORMERS_MODEL_CONFIG."""
    wanted = (NEW_BACKEND, OLD_BACKEND, MF_CONFIG, *MEMORY_NAMES)
    names: set[str] = set()
    rejects = False
    budget = _SCAN_LIMIT
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_bytes()[:budget].decode("utf-8", "replace")
        except OSError:
            continue
        budget -= len(text)
        names.update(name for name in wanted if name in text)
        for line in text.splitlines():
            if MF_CONFIG in line and "ValueError" in line:
                rejects = True
        if budget <= 0:
            break
    return InstalledMindSpore(version, frozenset(names), rejects)


def installed_mindspore(command: tuple[str, ...], env: Mapping[str, str]) -> InstalledMindSpore | str:
    """The installed package as the serving interpreter sees it, or why it could not be found."""
    interpreter = serving_interpreter(command, env)
    if interpreter is None:
        return f"{command[0] if command else 'the command'} was not found on the server's PATH"
    try:
        done = subprocess.run([interpreter, "-c", _LOCATE], capture_output=True, env=dict(env),
                              stdin=subprocess.DEVNULL, timeout=_TIMEOUT_S, check=False)
        answer = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return f"{interpreter} did not answer within {_TIMEOUT_S:.0f} s"
    except (OSError, IndexError, ValueError):
        return f"{interpreter} could not say where vllm_mindspore is"
    origin = answer.get("origin")
    if not origin:
        return f"vllm_mindspore is not installed for {interpreter}"
    return scan_package(Path(origin).parent, answer.get("version"))


def check_mindspore_env(env: Mapping[str, str], installed: InstalledMindSpore | str) -> Check:
    """The profile's MindSpore variables are the ones the installed release reads."""
    title = "vLLM-MindSpore variables"
    if isinstance(installed, str):
        return warned(KEY, title, f"not checked: {installed}",
                      "Install vllm-mindspore in the serving environment, or check its variables by hand.")
    release = f"vllm-mindspore {installed.version}" if installed.version else "the installed vllm-mindspore"
    problems, fixes, fatal = [], [], False
    if installed.new_style:
        if OLD_BACKEND in env and NEW_BACKEND not in env:
            problems.append(f"{release} reads {NEW_BACKEND}; {OLD_BACKEND} still works but is deprecated")
            fixes.append(f"Rename {OLD_BACKEND} to {NEW_BACKEND} in [environment.vars].")
        if MF_CONFIG in env and (installed.rejects_mf_config or MF_CONFIG not in installed.names):
            fatal = True
            problems.append(f"{release} rejects {MF_CONFIG} with a ValueError")
            fixes.append(f"Remove {MF_CONFIG} (the model's config.json is read instead), or use the legacy variant "
                         "with an older release.")
        unread = [name for name in MEMORY_NAMES if name in env and name not in installed.names]
        if unread:
            problems.append(f"{release} no longer reads {', '.join(unread)}")
            fixes.append("Remove them and size memory with --gpu-memory-utilization in [server.flags].")
    elif NEW_BACKEND in env and OLD_BACKEND not in env:
        problems.append(f"{release} reads {OLD_BACKEND}, not {NEW_BACKEND}, so the backend choice is ignored")
        fixes.append(f"Set {OLD_BACKEND} as well (or instead) in [environment.vars].")
    if not problems:
        style = f"reads {NEW_BACKEND}" if installed.new_style else f"reads {OLD_BACKEND}"
        return passed(KEY, title, f"{release} {style}; the profile's variables match")
    make = failed if fatal else warned
    return make(KEY, title, "; ".join(problems), " ".join(fixes))
