"""The flags the installed engine really accepts, asked of its own argument parser, cached per interpreter.

A misspelled flag (`--enforce-eagre`) costs a whole start: vLLM imports torch and its platform plugin
for 10-30 s before argparse says "unrecognized arguments". The set of flags differs between releases
and plugins (vllm-ascend adds some, 0.32 renamed others), so no list written here can be right for
every host: the serving environment's interpreter builds vLLM's own `serve` parser and prints its
option strings. That takes as long as importing vLLM, so the answer is kept on disk, keyed by the
interpreter's path, size and modification time (a reinstall or upgrade asks again).

Blocking (a subprocess with a timeout): call it from a thread.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.files.atomic import atomic_write_text
from tui.files.xdg import cache_home

QUERY_TIMEOUT_S = 90.0
_MAX_OUTPUT = 1 << 20
# Runs in the serving interpreter: vLLM's own `serve` parser, as `vllm serve` builds it, across releases.
_QUERY = r"""
import json, sys
if sys.argv[1] == "vllm-mindspore":
    import vllm_mindspore  # noqa: F401  (patches vLLM before its parser is built)
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:
    from vllm.utils import FlexibleArgumentParser
try:
    from vllm.entrypoints.cli.serve import ServeSubcommand
    parser = ServeSubcommand().subparser_init(FlexibleArgumentParser().add_subparsers())
except (ImportError, AttributeError, TypeError):
    from vllm.entrypoints.openai.cli_args import make_arg_parser
    parser = make_arg_parser(FlexibleArgumentParser())
import vllm
options = sorted({o for action in parser._actions for o in action.option_strings})
print(json.dumps({"version": getattr(vllm, "__version__", None), "options": options}))
"""


@dataclass(frozen=True)
class EngineFlags:
    """What the engine's parser accepts (`options`), or why it could not be asked (`problem`)."""

    interpreter: str | None
    version: str | None = None
    options: frozenset[str] = frozenset()
    problem: str | None = None
    cached: bool = False

    def accepts(self, flag: str) -> bool:
        """`--max_model_len` and `--max-model-len` are one option to vLLM's parser; `--no-X` negates `--X`."""
        return normal(flag) in self._normal_options

    @functools.cached_property
    def _normal_options(self) -> frozenset[str]:
        return frozenset(normal(option) for option in self.options)


def normal(flag: str) -> str:
    name = flag.split("=", 1)[0]
    return "--" + name[2:].replace("_", "-") if name.startswith("--") else name


def serving_interpreter(command: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The Python that will run the server: the command itself, or the interpreter its script names.

    `vllm serve` is a console script whose first line names its venv's Python; `python -m vllm…` is
    that Python. None when the command cannot be found on the server's PATH or names no Python.
    """
    if not command:
        return None
    found = shutil.which(command[0], path=env.get("PATH", os.defpath))
    if found is None:
        return None
    if Path(found).name.startswith("python"):
        return found
    with contextlib.suppress(OSError), open(found, "rb") as script:
        first = script.readline(512).decode("utf-8", "replace").strip()
        if first.startswith("#!"):
            words = first[2:].split()
            if words and Path(words[0]).name == "env" and len(words) > 1:
                return shutil.which(words[1], path=env.get("PATH", os.defpath))
            if words and "python" in Path(words[0]).name:
                return words[0]
    return None


def engine_flags(command: Sequence[str], env: Mapping[str, str], runtime: str,
                 timeout_s: float = QUERY_TIMEOUT_S) -> EngineFlags:
    """The flags `command` accepts, from the cache or by asking the serving interpreter once."""
    interpreter = serving_interpreter(command, env)
    if interpreter is None:
        where = command[0] if command else "(no command)"
        return EngineFlags(None, problem=f"{where} was not found on the server's PATH, so its flags were not checked")
    key = _cache_key(interpreter, runtime)
    cached = _read_cache(key)
    if cached is not None:
        return cached
    try:
        done = subprocess.run([interpreter, "-c", _QUERY, runtime], capture_output=True, env=dict(env),
                              stdin=subprocess.DEVNULL, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return EngineFlags(interpreter, problem=f"the engine did not list its flags within {timeout_s:.0f} s")
    except OSError as exc:
        return EngineFlags(interpreter, problem=f"{interpreter} could not be run: {exc.strerror or exc}")
    try:
        answer = json.loads(done.stdout[-_MAX_OUTPUT:].decode("utf-8", "replace").strip().splitlines()[-1])
        options = frozenset(str(option) for option in answer["options"])
    except (IndexError, KeyError, TypeError, ValueError):
        last = done.stderr[-4096:].decode("utf-8", "replace").strip().splitlines()
        why = last[-1] if last else f"exit status {done.returncode}"
        return EngineFlags(interpreter, problem=f"the engine's parser could not be built ({why[:200]})")
    flags = EngineFlags(interpreter, answer.get("version"), options)
    _write_cache(key, flags)
    return flags


def _cache_key(interpreter: str, runtime: str) -> str | None:
    try:
        real = os.path.realpath(interpreter)
        stat = os.stat(real)
        site = Path(interpreter).parent.parent  # the venv: a reinstall of vLLM into it changes pyvenv.cfg's mtime
        marker = os.stat(site / "pyvenv.cfg").st_mtime_ns if (site / "pyvenv.cfg").is_file() else 0
    except OSError:
        return None
    raw = f"{interpreter}|{real}|{stat.st_size}|{stat.st_mtime_ns}|{marker}|{runtime}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _cache_file(key: str) -> Path:
    return cache_home() / "engine-flags" / f"{key}.json"


def _read_cache(key: str | None) -> EngineFlags | None:
    if key is None:
        return None
    try:
        data = json.loads(_cache_file(key).read_text())
        return EngineFlags(data["interpreter"], data.get("version"), frozenset(data["options"]), cached=True)
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _write_cache(key: str | None, flags: EngineFlags) -> None:
    if key is None:
        return
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next launch a query
        _cache_file(key).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_cache_file(key), json.dumps({
            "interpreter": flags.interpreter, "version": flags.version, "options": sorted(flags.options)}))
