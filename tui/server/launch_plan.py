"""What exactly a launch would run: argv, environment and a copyable shell script.

The plan is computed from a profile and a variant without touching anything,
so the console can show the operator the exact command before it runs, and the
launcher runs exactly what was shown. The argv is a list (never a shell
string); the shell form exists only for the operator to copy.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.profiles import FlagValue, Profile, expand_value


@dataclass(frozen=True)
class LaunchPlan:
    """The command, the variables laid over the inherited environment, and files sourced first."""

    profile_name: str
    variant: str | None
    model: str  # the model path or id as passed, variables expanded
    argv: tuple[str, ...]
    env: Mapping[str, str]
    source_files: tuple[str, ...]

    def shell_script(self) -> str:
        """The launch as shell lines an operator can paste into a terminal."""
        lines = [f"source {shlex.quote(path)}" for path in self.source_files]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.env.items()]
        lines.append(shell_command(self.argv))
        return "\n".join(lines)


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

    `${VAR}` and `~` in the model path and in environment values are expanded
    against `env` (the environment the server would inherit), so what is shown
    is what runs.
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
    argv = list(server.command)
    if server.model_flag:
        argv.append(server.model_flag)
    argv.append(model)
    argv += flag_arguments(flags)
    argv += list(server.extra_args)
    return LaunchPlan(
        profile_name=profile.name,
        variant=variant.name if variant is not None else None,
        model=model,
        argv=tuple(argv),
        env={name: expand_value(value, base_env) for name, value in profile.effective_env(variant).items()},
        source_files=tuple(profile.environment.source),
    )


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
