"""The environment the server process will actually get: inherited, then sourced files, then the profile.

On an Ascend host most of what vLLM needs comes from shell files (CANN's
`ascend-toolkit/set_env.sh` sets `LD_LIBRARY_PATH`, `PATH`, `ASCEND_HOME_PATH`,
`ASCEND_OPP_PATH`…; nnal/atb's adds the ATB libraries). The console cannot read
those files itself, so it asks bash: each file is sourced in a fresh `bash -c`
that prints the environment with `env -0` before and after `source`, and the
difference is laid over what we have so far. Taking the difference (and not the
whole printout) matters because the runner lays its own environment under every
command, and bash adds `_` and bumps `SHLVL`; only what the file itself changed
is the file's effect, including variables it unsets.

The files are passed to bash as positional arguments, never pasted into the
script, so a path with spaces or quotes cannot turn into a command. Each run is
bounded by what is left of `timeout`. A missing file, a file that fails, calls
`exit`, or hangs becomes a sentence in `problems`, and the environment is what
could be resolved without it; nothing here raises for those.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.processes.commands import CommandResult, CommandRunner, find_executable
from tui.profile import expand_value

_MARKER = "--npu-console: sourced below--"
"""Separates the two `env -0` printouts; it holds no `=`, so it can never be a variable."""

_STATUS_VAR = "__npu_console_source_status"

# `set -a` exports plain assignments too, the way a launch script that sources with
# `set -a` sees them. The file's own output goes to stderr so that stdout stays
# machine-readable. $1 is the file, $2 the marker.
_SOURCE_SCRIPT = (
    "env -0; printf '%s\\0' \"$2\"; "
    f'set -a; source "$1" >&2; {_STATUS_VAR}=$?; set +a; export -n {_STATUS_VAR}; '
    f'env -0; exit "${_STATUS_VAR}"'
)

_SHELL_OWN = frozenset({"_", "SHLVL", "PWD", "OLDPWD"})
"""Variables bash itself sets or changes between the two printouts: never the file's doing."""


@dataclass(frozen=True)
class ResolvedEnv:
    """The server's environment as far as it could be worked out, and why it may be incomplete.

    `sourced` lists the files whose effect is included (as given, before expansion).
    """

    env: dict[str, str]
    problems: tuple[str, ...] = ()
    sourced: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


async def resolve_environment(
    base_env: Mapping[str, str],
    source_files: Sequence[str],
    overrides: Mapping[str, str],
    runner: CommandRunner,
    timeout: float = 20.0,
) -> ResolvedEnv:
    """`base_env`, then the effect of sourcing each of `source_files` in order, then `overrides`.

    `timeout` bounds all the sourcing together (a hung file must not hold the
    launch for 20 s per file). File paths may use `~` and `${VAR}`, expanded
    against the environment so far, as a shell would when it reaches that line.
    `overrides` are the profile's variables as written (`LaunchPlan.env`): `${VAR}`
    in them is expanded against the environment after every file was sourced (and
    the variables before them), so `LD_LIBRARY_PATH = "/opt/x:${LD_LIBRARY_PATH}"`
    extends what set_env.sh produced. That order is the rule `launch.sh` follows too.
    """
    env = dict(base_env)
    problems: list[str] = []
    sourced: list[str] = []
    deadline = time.monotonic() + timeout
    for raw in source_files:
        path = expand_value(raw, env)
        missing = _missing_sentence(raw, path)
        if missing is not None:
            problems.append(missing)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problems.append(
                f"{path} was not sourced: sourcing the files before it used up the {timeout:g} s allowed"
            )
            continue
        bash = find_executable("bash", env, ("/bin", "/usr/bin"))
        if bash is None:
            problems.append(f"{path} was not sourced: bash was not found on PATH, /bin or /usr/bin")
            continue
        result = await runner.run([bash, "-c", _SOURCE_SCRIPT, "npu-console-source", path, _MARKER],
                                  timeout=remaining, env=env)
        changes, problem = _effect(path, result, remaining)
        if problem is not None:
            problems.append(problem)
        if changes is not None:
            _apply(env, changes)
            sourced.append(raw)
    for name, value in overrides.items():
        env[name] = expand_value(value, env)
    return ResolvedEnv(env=env, problems=tuple(problems), sourced=tuple(sourced))


@dataclass(frozen=True)
class _Changes:
    set: dict[str, str]
    removed: frozenset[str]


def _effect(path: str, result: CommandResult, timeout: float) -> tuple[_Changes | None, str | None]:
    """What sourcing did (None when nothing usable came back) and the problem to report, if any."""
    if result.timed_out:
        return None, (
            f"sourcing {path} did not finish within {timeout:.1f} s and was stopped "
            "(does it wait for input or run something slow?); its variables were not taken"
        )
    if result.error is not None or result.returncode is None:
        return None, f"could not source {path}: {result.error or 'bash did not run'}"
    before, after = _split_printouts(result.stdout)
    why = _last_line(result.stderr)
    if before is None or after is None:
        return None, (
            f"{path} stopped the shell with status {result.returncode} while being sourced "
            f"(does it call `exit`?){why}; its variables were not taken"
        )
    changes = _Changes(
        set={name: value for name, value in after.items() if before.get(name) != value},
        removed=frozenset(before.keys() - after.keys()),
    )
    if result.returncode != 0:
        return changes, (
            f"sourcing {path} ended with status {result.returncode}{why}; "
            "what it set before that is kept, but a launch that runs `source … && vllm serve` would stop here"
        )
    return changes, None


def _split_printouts(stdout: str) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    records = stdout.split("\0")
    try:
        at = records.index(_MARKER)
    except ValueError:
        return None, None
    before = _parse_records(records[:at])
    rest = [record for record in records[at + 1:] if record]
    return before, (_parse_records(rest) if rest else None)


def _parse_records(records: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for record in records:
        name, sep, value = record.partition("=")
        if sep and name and name not in _SHELL_OWN and not name.startswith("BASH_FUNC_"):
            env[name] = value
    return env


def _apply(env: dict[str, str], changes: _Changes) -> None:
    env.update(changes.set)
    for name in changes.removed:
        env.pop(name, None)


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f" ({lines[-1]})" if lines else ""


def _missing_sentence(raw: str, path: str) -> str | None:
    """None when `path` is a file to source; else why it cannot be (one stat: cheap enough inline)."""
    if Path(path).is_file():
        return None
    if "$" in path:
        return f"{raw} was not sourced: it names a variable that is not set ({path})"
    return f"{path} does not exist, so it was not sourced"
