"""Checks on the environment: misspelled names, the worker start method, npu-smi, the sourced files.

A variable with a typo in its name is ignored without a word by every program,
so the name check is a fail, not a warning: the operator meant something and
will not get it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tui.devices.locate import NPU_SMI_DIRS
from tui.devices.snapshot import DeviceSnapshot
from tui.profile import Runtime
from tui.server.environment import ResolvedEnv
from tui.server.known_env import is_known, near_miss
from tui.server.preflight.check import Check, failed, passed, warned

NAMES_KEY = "env_names"
SPAWN_KEY = "multiproc_method"
NPU_SMI_KEY = "npu_smi"
SOURCED_KEY = "sourced_files"

ASCEND_RUNTIMES: tuple[Runtime, ...] = ("vllm-ascend", "vllm-mindspore", "simulated")
SPAWN_RUNTIMES: tuple[Runtime, ...] = ("vllm-ascend", "simulated")
_CANN_RUNTIMES: tuple[Runtime, ...] = ("vllm-ascend", "vllm-mindspore")
_CANN_MARKERS = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME")


def check_env_names(names: Iterable[str]) -> Check:
    """Every variable the profile sets is either known, or not close to a known name."""
    title = "Variable names"
    chosen = list(dict.fromkeys(names))
    typos = [(name, hint) for name in chosen if not is_known(name) and (hint := near_miss(name)) is not None]
    if typos:
        return failed(
            NAMES_KEY, title,
            "; ".join(f"{name} looks like a typo of {hint}" for name, hint in typos),
            " ".join(f"Rename {name} to {hint} in [environment.vars]." for name, hint in typos),
        )
    if not chosen:
        return passed(NAMES_KEY, title, "the profile sets no variables")
    return passed(NAMES_KEY, title, f"{len(chosen)} variable(s) set by the profile; none looks misspelled")


def check_multiproc_method(runtime: Runtime, env: Mapping[str, str]) -> Check:
    """On Ascend, workers should be spawned: a worker forked after the NPU is initialised cannot use it."""
    title = "Worker start method"
    if runtime not in SPAWN_RUNTIMES:
        return passed(SPAWN_KEY, title, f"no recommendation for the {runtime} runtime")
    value = env.get("VLLM_WORKER_MULTIPROC_METHOD")
    if value == "spawn":
        return passed(SPAWN_KEY, title, "VLLM_WORKER_MULTIPROC_METHOD=spawn")
    found = f"is {value!r}" if value is not None else "is not set (vLLM then forks)"
    return warned(
        SPAWN_KEY, title,
        f"VLLM_WORKER_MULTIPROC_METHOD {found}; a worker forked after the NPU is initialised fails with "
        "'Cannot re-initialize NPU in forked subprocess'",
        "Set VLLM_WORKER_MULTIPROC_METHOD=spawn in [environment.vars].",
    )


def check_npu_smi(runtime: Runtime, npu_smi_found: bool, devices: DeviceSnapshot | None) -> Check:
    """npu-smi is there and answers: without it the console cannot check chips or watch HBM."""
    title = "npu-smi"
    if runtime not in ASCEND_RUNTIMES:
        return passed(NPU_SMI_KEY, title, f"not needed for the {runtime} runtime")
    if not npu_smi_found:
        return warned(
            NPU_SMI_KEY, title,
            f"npu-smi was not found on PATH or in {', '.join(NPU_SMI_DIRS)}, so the device checks were skipped "
            "and the console cannot watch HBM",
            "Add the driver's tools folder to PATH (/usr/local/Ascend/driver/tools), or mount npu-smi into "
            "the container (-v /usr/local/bin/npu-smi:/usr/local/bin/npu-smi).",
        )
    if devices is not None and devices.error:
        return warned(
            NPU_SMI_KEY, title, f"npu-smi is there but did not give a reading: {devices.error}",
            "Run `npu-smi info` by hand; a driver or container mismatch usually shows there.",
        )
    if devices is None:
        return passed(NPU_SMI_KEY, title, "npu-smi found (no reading was taken yet)")
    return passed(NPU_SMI_KEY, title, f"npu-smi answered: {len(devices.chips)} chip(s)")


def check_sourced_files(
    env: ResolvedEnv | Mapping[str, str], source_files: Sequence[str], runtime: Runtime
) -> Check:
    """The shell files sourced cleanly; on CANN runtimes, the CANN environment is there at all."""
    title = "Sourced shell files"
    if isinstance(env, ResolvedEnv) and env.problems:
        return failed(
            SOURCED_KEY, title, "; ".join(env.problems),
            "Fix [environment] source in the profile (CANN's is /usr/local/Ascend/ascend-toolkit/set_env.sh, "
            "ATB's /usr/local/Ascend/nnal/atb/set_env.sh), or make the file source cleanly in a fresh "
            "`bash -c 'source FILE'`.",
        )
    values = env.env if isinstance(env, ResolvedEnv) else env
    if runtime in _CANN_RUNTIMES and not any(values.get(name) for name in _CANN_MARKERS):
        return warned(
            SOURCED_KEY, title,
            "CANN's environment is missing: ASCEND_HOME_PATH is not set"
            + (" even after sourcing the profile's files" if source_files else " and the profile sources no files")
            + "; vLLM-Ascend then fails to load libhccl.so / libatb.so",
            "Add /usr/local/Ascend/ascend-toolkit/set_env.sh (and /usr/local/Ascend/nnal/atb/set_env.sh) "
            "to [environment] source.",
        )
    if not source_files:
        return passed(SOURCED_KEY, title, "the profile sources no files")
    if not isinstance(env, ResolvedEnv):
        return passed(SOURCED_KEY, title, f"{len(source_files)} file(s) to source; not resolved here")
    return passed(SOURCED_KEY, title, f"sourced {', '.join(env.sourced)}")
