"""All preflight checks for one launch, in the order an operator fixes things."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from tui.devices.processes import HeldMemory
from tui.devices.snapshot import DeviceSnapshot
from tui.profile import Profile
from tui.server.environment import ResolvedEnv
from tui.server.launch_plan import LaunchPlan, server_command
from tui.server.preflight.check import Check
from tui.server.preflight.cpu import check_cpu_engine
from tui.server.preflight.devices import check_hbm, check_leftovers, check_visible_devices, device_use
from tui.server.preflight.env_checks import (
    check_env_names,
    check_multiproc_method,
    check_npu_smi,
    check_sourced_files,
)
from tui.server.preflight.flags import check_flags, check_max_model_len
from tui.server.preflight.mindspore import check_mindspore_env, installed_mindspore
from tui.server.preflight.model import check_model, check_model_source
from tui.server.preflight.port import check_port, listen_address


async def run_preflight(
    plan: LaunchPlan,
    profile: Profile,
    env: ResolvedEnv | Mapping[str, str],
    devices: DeviceSnapshot | None,
    holders: Sequence[HeldMemory],
    *,
    npu_smi_found: bool,
) -> list[Check]:
    """Check everything that would make `plan` fail minutes into its start, before it starts.

    `env` is what the server will get (`resolve_environment`, or a plain mapping
    when that was done elsewhere); `devices` the latest device reading (None when
    there is none); `holders` the device processes joined with the host's view
    (`describe_holders`, which blocks, so the caller runs it off the UI thread).
    The port and model checks touch sockets and files and run in threads; the
    others only read the values given. The order is fixed: port, model files,
    model hub, visible devices, free HBM, leftovers, variable names, worker start
    method, npu-smi, sourced files. The engine's flags and the context length come
    right after the model files (the flag list is asked of the serving interpreter
    once, then cached). The CPU build has no chips: its own variables are checked
    instead of visible devices, HBM and leftovers.
    """
    values = env.env if isinstance(env, ResolvedEnv) else dict(env)
    host, port = listen_address(plan.argv, profile)
    port_check, model_check, flags_check, context_check = await asyncio.gather(
        asyncio.to_thread(check_port, host, port),
        asyncio.to_thread(check_model, profile, values, plan.argv),
        asyncio.to_thread(check_flags, profile, values, plan.argv, plan.variant),
        asyncio.to_thread(check_max_model_len, profile, values, plan.argv),
    )
    if profile.runtime == "vllm-mindspore":
        installed = await asyncio.to_thread(installed_mindspore, server_command(profile, plan.variant), values)
        runtime_checks = [check_mindspore_env(values, installed)]
    else:
        runtime_checks = []
    if profile.runtime == "vllm-cpu":
        device_checks = [check_cpu_engine(values)]
    else:
        use = device_use(values, plan.argv, devices, profile.runtime)
        device_checks = [check_visible_devices(use), check_hbm(use, devices, plan.argv),
                         check_leftovers(use, devices, holders)]
    return [
        port_check,
        model_check,
        flags_check,
        context_check,
        check_model_source(profile, plan.env, values),
        *device_checks,
        check_env_names(plan.env),
        check_multiproc_method(profile.runtime, values),
        check_npu_smi(profile.runtime, npu_smi_found, devices),
        check_sourced_files(env, plan.source_files, profile.runtime),
        *runtime_checks,
    ]
