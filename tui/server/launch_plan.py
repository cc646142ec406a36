"""What exactly a launch would run: argv, environment and a copyable shell script.

The plan is computed from a profile and a variant without touching anything,
so the console can show the operator the exact command before it runs, and the
launcher runs exactly what was shown. The argv is a list (never a shell
string); the shell form exists only for the operator to copy.

Environment order (the rule the console, `launch.sh` and the README state):
the inherited environment, then each `[environment] source` file in order, then
the profile's `[environment.vars]` (a variant's laid over them) expanded against
the environment those files produced — so `LD_LIBRARY_PATH =
"/opt/mine:${LD_LIBRARY_PATH}"` extends what CANN's set_env.sh set. That is why
`LaunchPlan.env` keeps the profile's values as written: they are expanded
later (`tui.server.environment.resolve_environment`, or the shell running
`launch.sh`), never against the console's own environment first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.profile import FlagValue, Profile, expand_value


@dataclass(frozen=True)
class LaunchPlan:
    """The command, the variables laid over the inherited environment, and files sourced first.

    `env` holds the profile's values as written (`${VAR}` not yet expanded: they are
    expanded against the environment after the sourced files, see the module's rule).
    """

    profile_name: str
    variant: str | None
    model: str  # the model path or id as passed, variables expanded
    argv: tuple[str, ...]
    env: Mapping[str, str]
    source_files: tuple[str, ...]

    def shell_script(self) -> str:
        """The launch as POSIX sh lines (dash runs them) an operator can paste into a terminal.

        Sourced files first (with `set -a`, as the console sources them), then the
        profile's variables with their `${VAR}` references left for the shell to
        expand against what those files set, then the command.
        """
        lines: list[str] = []
        if self.source_files or self.env:
            lines.append(ORDER_COMMENT)
        if self.source_files:
            lines.append("set -a")
            lines += [f". {_shell_word(path)}" for path in self.source_files]
            lines.append("set +a")
        lines += [f"export {name}={_shell_word(value)}" for name, value in self.env.items()]
        lines.append(shell_command(self.argv))
        return "\n".join(lines)


ORDER_COMMENT = ("# Order: the sourced files run first; then the profile's variables, "
                 "expanded against the environment those files set.")


def flag_arguments(flags: Mapping[str, FlagValue]) -> list[str]:
    """vLLM-style arguments for a flag table.

    `True` gives a bare flag, `False` leaves it out, a list gives the flag followed
    by each item (vLLM's `nargs='+'` options), a table is passed as compact JSON
    (`--compilation-config '{"cudagraph_mode": …}'`).
    """
    args: list[str] = []
    for name, value in flags.items():
        flag = name if name.startswith("-") else f"--{name}"
        if value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, list):
            args.append(flag)
            args.extend(_scalar(item) for item in value)
        elif isinstance(value, dict):
            args += [flag, json.dumps(value, separators=(",", ":"), ensure_ascii=False)]
        else:
            args += [flag, _scalar(value)]
    return args


def launch_plan(
    profile: Profile,
    variant_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> LaunchPlan:
    """The launch of `profile` under `variant_name` (the profile's default when None).

    `${VAR}` and `~` in the model path are expanded against `env` (the
    environment the server would inherit), so what is shown is what runs; the
    environment values stay as written (the module's order rule).
    """
    base_env = env if env is not None else os.environ
    variant = profile.variant(variant_name if variant_name is not None else profile.default_variant)
    server = profile.server
    flags: dict[str, FlagValue] = {}
    if server.host:
        flags["host"] = server.host
    flags["port"] = server.port
    if server.served_model_name:
        flags["served-model-name"] = server.served_model_name
    flags.update(profile.effective_flags(variant))
    model = expand_value(profile.model_ref, base_env)
    argv = list(server_command(profile, variant.name if variant is not None else None))
    model_flag = variant.model_flag if variant is not None and variant.command else server.model_flag
    if model_flag:
        argv.append(model_flag)
    argv.append(model)
    argv += flag_arguments(flags)
    argv += list(server.extra_args)
    return LaunchPlan(
        profile_name=profile.name,
        variant=variant.name if variant is not None else None,
        model=model,
        argv=tuple(argv),
        env=profile.effective_env(variant),
        source_files=tuple(profile.environment.source),
    )


def server_command(profile: Profile, variant_name: str | None) -> tuple[str, ...]:
    """The entry point a launch runs: the variant's own (a legacy entry point), else the server's."""
    variant = profile.variant(variant_name) if variant_name is not None else None
    return tuple(variant.command) if variant is not None and variant.command else tuple(profile.server.command)


def shell_command(argv: tuple[str, ...] | list[str]) -> str:
    """argv as one shell line, continued with backslashes before each option for reading."""
    parts: list[str] = []
    for word in argv:
        quoted = shlex.quote(word)
        if word.startswith("--") and parts:
            parts.append("\\\n  " + quoted)
        else:
            parts.append(quoted)
    return " ".join(parts)


def _scalar(value: Any) -> str:
    return str(value)


_SHELL_REF = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}|[A-Za-z_][A-Za-z0-9_]*)")


def _shell_word(value: str) -> str:
    """`value` as one shell word whose `$VAR`, `${VAR}`, `${VAR:-default}` and leading `~` the shell expands.

    Everything else is literal: a value without references is single-quoted; one
    with references is double-quoted with `"`, `\\`, `` ` `` and any other `$` escaped.
    """
    if value == "~" or value.startswith("~/"):
        value = "${HOME}" + value[1:]
    if not _SHELL_REF.search(value):
        return shlex.quote(value)
    parts: list[str] = []
    at = 0
    for match in _SHELL_REF.finditer(value):
        parts.append(_double_quoted(value[at:match.start()]))
        parts.append(match.group(0))
        at = match.end()
    parts.append(_double_quoted(value[at:]))
    return '"' + "".join(parts) + '"'


def _double_quoted(text: str) -> str:
    return "".join("\\" + char if char in '"\\`$' else char for char in text)
