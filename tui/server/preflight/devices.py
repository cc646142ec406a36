"""Which chips the server will use, whether they exist, have room, and are not held by leftovers.

`ASCEND_RT_VISIBLE_DEVICES` takes chip *logic ids* (the `Chip Logic ID` column of
`npu-smi info -m`), not NPU ids: on an A3 the 8 cards carry 16 logic ids, and on
hosts with gaps in the NPU numbering logic id 1 may be NPU 4. The snapshot's
mapping says which chip each logic id is; without a mapping, the chips in the
order npu-smi lists them are logic ids 0, 1, 2…

The server uses the first tensor × pipeline × data-parallel entries of the list
(or logic ids 0… when the variable is unset), so those are the chips whose free
HBM and holders are checked. One node only: a multi-node Ray setup spreads the
ranks over hosts, which these checks do not see.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tui.devices.processes import HeldMemory
from tui.devices.snapshot import ChipReading, DeviceSnapshot
from tui.devices.visible_devices import visible_devices, visible_variable
from tui.profile import Runtime
from tui.server.preflight.check import Check, Offer, failed, passed, warned
from tui.server.preflight.plan_args import ParallelSizes, gpu_memory_utilization, parallel_sizes

VISIBLE_KEY = "visible_devices"
HBM_KEY = "hbm"
LEFTOVER_KEY = "leftovers"
_COMMAND_SHOWN = 80
_LOWEST_SUGGESTED_UTILIZATION = 0.05
"""Below this share of a chip, "lower --gpu-memory-utilization" is no advice worth giving."""


@dataclass(frozen=True)
class DeviceUse:
    """What the server will be given: the variable, its value, the chips it needs and will take.

    `listed` is the parsed value (None: unset or unreadable), `host_ids` the logic ids
    this host has (None: no usable device reading), `used` the logic ids the server
    will run on (None: cannot tell, because the value is unreadable).
    """

    variable: str
    raw: str | None
    listed: tuple[int, ...] | None
    sizes: ParallelSizes
    host_ids: tuple[int, ...] | None
    used: tuple[int, ...] | None


def _tools(variable: str) -> tuple[str, str, str]:
    """The runtime's own words: (tool, the command that lists device ids, the id column's name)."""
    if variable == "CUDA_VISIBLE_DEVICES":
        return "nvidia-smi", "`nvidia-smi -L`", "GPU index"
    return "npu-smi", "`npu-smi info -m`", "Chip Logic ID column"


def device_use(
    env: Mapping[str, str], argv: Sequence[str], devices: DeviceSnapshot | None, runtime: Runtime
) -> DeviceUse:
    """Work out the chips from the server's environment, its argv and the device reading."""
    variable = visible_variable(runtime)
    raw = env.get(variable)
    listed = visible_devices(env, runtime)
    sizes = parallel_sizes(argv)
    if raw is None:
        used: tuple[int, ...] | None = tuple(range(sizes.chips))
    elif listed is None:
        used = None
    else:
        used = tuple(dict.fromkeys(listed))[: sizes.chips]
    return DeviceUse(variable, raw, listed, sizes, host_logic_ids(devices), used)


def host_logic_ids(devices: DeviceSnapshot | None) -> tuple[int, ...] | None:
    """The logic ids this host has: from the mapping, else one per chip in listed order."""
    if devices is None or not devices.ok:
        return None
    mapped = tuple(row.logic_id for row in devices.mapping if row.logic_id is not None)
    if mapped:
        return tuple(sorted(mapped))
    return tuple(range(len(devices.chips))) if devices.chips else None


def chip_for(devices: DeviceSnapshot | None, logic_id: int) -> ChipReading | None:
    """The reading of the chip with `logic_id`, or None when the snapshot has no such chip."""
    if devices is None:
        return None
    if devices.mapping:
        row = next((item for item in devices.mapping if item.logic_id == logic_id), None)
        if row is None:
            return None
        exact = [chip for chip in devices.chips if chip.npu == row.npu and chip.chip == row.chip]
        same_card = [chip for chip in devices.chips if chip.npu == row.npu]
        return exact[0] if exact else same_card[0] if len(same_card) == 1 else None
    return devices.chips[logic_id] if 0 <= logic_id < len(devices.chips) else None


def chip_label(devices: DeviceSnapshot | None, logic_id: int) -> str:
    """`NPU 3`, `NPU 4 (logic id 1)`, or `NPU 2 chip 1 (logic id 5)` on two-die cards."""
    chip = chip_for(devices, logic_id)
    if chip is None or devices is None:
        return f"logic id {logic_id}"
    dies = sum(1 for other in devices.chips if other.npu == chip.npu)
    if dies > 1:
        return f"NPU {chip.npu} chip {chip.chip} (logic id {logic_id})"
    return f"NPU {chip.npu}" if chip.npu == logic_id else f"NPU {chip.npu} (logic id {logic_id})"


def check_visible_devices(use: DeviceUse) -> Check:
    """The list parses, has no duplicates, names chips that exist, and has enough of them."""
    var, title = use.variable, use.variable
    need = use.sizes.chips
    host = use.host_ids
    if use.raw is None:
        if host is not None and need > len(host):
            return failed(VISIBLE_KEY, title,
                          f"{var} is not set and the server needs {need} chips ({use.sizes.describe()}), "
                          f"but this host has {len(host)}",
                          f"Lower the parallel sizes to fit {len(host)} chip(s).")
        if host is not None and len(host) <= 1:
            return passed(VISIBLE_KEY, title, f"not set; this host has {len(host)} chip, which the server will use")
        where = f"of the {len(host)} on this host" if host is not None else "(the host's chips could not be read)"
        return warned(VISIBLE_KEY, title,
                      f"{var} is not set, so the server takes logic ids {_ids(use.used or ())} {where}, "
                      "whether or not someone else is using them",
                      f"Set {var} in [environment.vars] to the ids to use (see {_tools(var)[1]}).")
    if use.listed is None:
        return failed(VISIBLE_KEY, title,
                      f"{var}={use.raw!r} is not a comma-separated list of logic ids",
                      f"Write {var} as logic ids separated by commas, e.g. 0 or 0,1.")
    problems: list[str] = []
    fixes: list[str] = []
    twice = sorted({item for item in use.listed if use.listed.count(item) > 1})
    if twice:
        problems.append(f"{var}={use.raw} lists logic id {_ids(twice)} more than once")
        fixes.append("List each logic id once.")
    if host is not None:
        absent = [item for item in dict.fromkeys(use.listed) if item not in host]
        if absent:
            problems.append(f"logic id {_ids(absent)} does not exist on this host (it has {_ranges(host)})")
            fixes.append(f"Use ids from the {_tools(var)[2]} of {_tools(var)[1]}.")
    distinct = len(set(use.listed))
    if distinct < need:
        problems.append(f"{var}={use.raw} gives {distinct} chip(s) but the server needs {need} "
                        f"({use.sizes.describe()})")
        fixes.append(f"List at least {need} logic ids, or lower --tensor-parallel-size/--pipeline-parallel-size.")
    if problems:
        return failed(VISIBLE_KEY, title, "; ".join(problems), " ".join(fixes))
    used = f"the server uses logic id {_ids(use.used or ())}"
    if host is None:
        return warned(VISIBLE_KEY, title,
                      f"{var}={use.raw}: {used}, but whether these chips exist could not be checked "
                      "(no device reading)",
                      f"Make {_tools(var)[0]} work here so the list can be checked against the host.")
    extra = f" (the first {need} of {distinct} listed)" if distinct > need else ""
    return passed(VISIBLE_KEY, title, f"{var}={use.raw}: {used}{extra}")


def check_hbm(use: DeviceUse, devices: DeviceSnapshot | None, argv: Sequence[str]) -> Check:
    """Each chip the server uses has the free memory `--gpu-memory-utilization` × total asks for.

    vLLM refuses to start when a chip's free memory at start-up is below that share
    of its total, after the model has loaded, which is minutes too late to learn it.
    """
    title = "Free HBM" if _tools(use.variable)[0] == "npu-smi" else "Free GPU memory"
    util = gpu_memory_utilization(argv)
    if use.used is None:
        return warned(HBM_KEY, title, f"not checked: {use.variable} could not be read",
                      f"Fix {use.variable} first (see its check).")
    if devices is None or not devices.ok or not devices.chips:
        why = devices.error if devices is not None and devices.error else "no device reading"
        return warned(HBM_KEY, title, f"not checked: {why}",
                      f"Make {_tools(use.variable)[0]} work here, or check free memory by hand with "
                      f"`{_tools(use.variable)[0]}` before the launch.")
    short: list[str] = []
    fine: list[str] = []
    unknown: list[str] = []
    highest_ok = 1.0
    for logic_id in use.used:
        chip = chip_for(devices, logic_id)
        if chip is None:
            continue  # not on this host: the visible-devices check says so
        label = chip_label(devices, logic_id)
        figures = _memory(chip)
        if figures is None:
            unknown.append(label)
            continue
        used_mb, total_mb = figures
        free, wanted = total_mb - used_mb, math.floor(util * total_mb)
        if free < wanted:
            short.append(f"{label} has {free} MB free, the server will ask for {wanted} MB ({util:.2f} × {total_mb})")
            highest_ok = min(highest_ok, free / total_mb)
        else:
            fine.append(f"{label}: {free} MB free of {total_mb}, the server will ask for {wanted}")
    if short:
        lower = math.floor(highest_ok * 100) / 100
        if lower >= _LOWEST_SUGGESTED_UTILIZATION:
            fix = (f"Free that memory (see the leftover check), choose other chips in {use.variable}, "
                   f"or lower --gpu-memory-utilization to {lower:.2f} or less.")
        else:
            fix = f"Free that memory (see the leftover check) or choose other chips in {use.variable}."
        return failed(HBM_KEY, title, "; ".join(short), fix)
    if unknown:
        return warned(HBM_KEY, title, f"the device tool gave no memory figures for {', '.join(unknown)}",
                      f"Check free memory by hand with `{_tools(use.variable)[0]}` before the launch.")
    if not fine:
        return warned(HBM_KEY, title, "not checked: none of the chips to use is in the device reading",
                      f"Fix {use.variable} first (see its check).")
    return passed(HBM_KEY, title, f"{'; '.join(fine)} ({util:.2f} × total)")


def check_leftovers(use: DeviceUse, devices: DeviceSnapshot | None, holders: Sequence[HeldMemory]) -> Check:
    """No leftover vLLM process (engine core, worker, zombie) holds memory on the chips to use."""
    title = "No leftover processes"
    on_ours = [holder for holder in holders if _on_chips(holder, use, devices)]
    leftovers = [holder for holder in on_ours if holder.is_leftover]
    where = f"logic id {_ids(use.used)}" if use.used is not None else "this host"
    if not leftovers:
        others = [holder for holder in on_ours if not holder.ours]
        note = ""
        if others:
            note = "; other processes hold memory there too (counted in free HBM): " + ", ".join(
                _describe(holder, devices) for holder in others
            )
        return passed(LEFTOVER_KEY, title, f"no leftover vLLM process holds memory on {where}{note}")
    detail = "; ".join(f"{_describe(holder, devices)}: {holder.leftover}" for holder in leftovers)
    pids = tuple(sorted({holder.kill_pid for holder in leftovers if holder.kill_pid is not None}))
    unreachable = [holder.device.pid for holder in leftovers if holder.kill_pid is None]
    fix = f"Stop them and wait until {_tools(use.variable)[0]} shows the memory released, then launch."
    if unreachable:
        fix += (f" pid {_ids(unreachable)} is not visible from here (another container or namespace): "
                "stop it where it runs, or restart that container.")
    offer = None
    if pids:
        plural = "es" if len(pids) > 1 else ""
        offer = Offer("stop_process", pids, f"Stop {len(pids)} leftover process{plural} (pid {_ids(pids)})")
    return failed(LEFTOVER_KEY, title, detail, fix, offer)


def _on_chips(holder: HeldMemory, use: DeviceUse, devices: DeviceSnapshot | None) -> bool:
    if use.used is None:
        return True
    for logic_id in use.used:
        chip = chip_for(devices, logic_id)
        npu, die = (chip.npu, chip.chip) if chip is not None else (logic_id, None)
        if holder.device.npu == npu and (die is None or holder.device.chip is None or holder.device.chip == die):
            return True
    return False


def _describe(holder: HeldMemory, devices: DeviceSnapshot | None) -> str:
    device = holder.device
    command = holder.host.command if holder.host is not None else (device.name or "not visible here")
    if len(command) > _COMMAND_SHOWN:
        command = command[: _COMMAND_SHOWN - 1] + "…"
    memory = f"{device.memory_mb} MB" if device.memory_mb is not None else "memory"
    chip = f"NPU {device.npu}" + (f" chip {device.chip}" if device.chip and _dies(devices, device.npu) > 1 else "")
    return f"pid {device.pid} ({command}) holds {memory} on {chip}"


def _dies(devices: DeviceSnapshot | None, npu: int) -> int:
    return sum(1 for chip in devices.chips if chip.npu == npu) if devices is not None else 1


def _memory(chip: ChipReading) -> tuple[int, int] | None:
    """(used, total) MB: HBM where the chip has it, else the Memory-Usage pair (310P DDR)."""
    for used, total in ((chip.hbm_used_mb, chip.hbm_total_mb), (chip.memory_used_mb, chip.memory_total_mb)):
        if used is not None and total:
            return used, total
    return None


def _ids(ids: Sequence[int]) -> str:
    return ",".join(str(item) for item in ids)


def _ranges(ids: Sequence[int]) -> str:
    """`0-7`, or `0,1,4` when not contiguous."""
    ordered = sorted(ids)
    if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"logic ids {ordered[0]}-{ordered[-1]}"
    return f"logic id {_ids(ordered)}"
