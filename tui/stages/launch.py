"""From a profile to a `StageRun`: which Python runs the stage, and with what.

The stage interpreter is the profile's `[stages] python` (the serving
environment's, where torch_npu lives), expanded like every path in a profile
(`~`, `$VAR`) against the environment the stage will get, so
`${CONDA_PREFIX}/bin/python` works; without one, the console's own interpreter.
Kept apart from `runner` so the runner stays free of the profile model.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tui.profile import Profile, expand_value
from tui.stages.runner import StageRun


def stage_python(profile: Profile, env: Mapping[str, str]) -> str:
    """The interpreter for `profile`'s stages: an absolute path, a name found on env's PATH, or ours.

    A bare name (`python3`) is looked up on the stage environment's PATH, not
    ours, because that is the PATH the serving environment's activation set up.
    An unresolvable name is returned as written: starting it then fails with a
    sentence that names it, which is clearer than silently using another Python.
    """
    raw = profile.stages.python
    if not raw:
        return sys.executable
    value = expand_value(raw, env)
    if "/" in value:
        return value
    found = shutil.which(value, path=env.get("PATH"))
    return found or value


def stage_run_for(
    profile: Profile,
    name: str,
    args: Sequence[str] = (),
    *,
    run_dir: Path,
    env: Mapping[str, str],
    **kwargs: Any,
) -> StageRun:
    """A `StageRun` of `tui.stages.<name>` under `profile`'s stage Python and `env` (not started)."""
    return StageRun(name, args, run_dir=run_dir, python=stage_python(profile, env), env=env, **kwargs)
