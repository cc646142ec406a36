"""One `environment.json`: what the serving environment runs on, each field with its source or why it is null.

Captured at every launch (beside `launch.json`) and by the evidence stage. Everything external is
bounded: the serving interpreter and `npu-smi` each run under a timeout, files are read with a size
limit, and directory walks have a depth and entry limit. Nothing here raises for an unreadable host;
the one thing that can fail is writing the file, and `write_environment` reports that as a sentence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui.devices.locate import find_npu_smi
from tui.devices.npu_smi_usages import parse_npu_smi_usages
from tui.devices.snapshot import DeviceSnapshot
from tui.evidence import ascend_files, host, packages
from tui.evidence.fields import found, missing
from tui.files.atomic import atomic_write_json
from tui.processes.commands import CommandRunner, SubprocessRunner, find_executable

ENVIRONMENT_FILE = "environment.json"
NPU_SMI_TIMEOUT_S = 10.0
NPU_SMI_ENV = {"LC_ALL": "C", "LANG": "C"}


def _npu_smi(env: Mapping[str, str], ascend_root: Path) -> str | None:
    return find_npu_smi(env) or find_executable("npu-smi", {"PATH": str(ascend_root / "driver" / "tools")})


async def firmware_version(runner: CommandRunner, env: Mapping[str, str], ascend_root: Path, npu: int = 0
                           ) -> dict[str, Any]:
    """`Firmware Version` (and the driver's `Software Version`) of `npu-smi info -t board -i NPU`."""
    tool = _npu_smi(env, ascend_root)
    if tool is None:
        return missing("npu-smi was not found on PATH or in the driver's tools folder")
    argv = [tool, "info", "-t", "board", "-i", str(npu)]
    command = " ".join(argv[1:])
    result = await runner.run(argv, timeout=NPU_SMI_TIMEOUT_S, env=NPU_SMI_ENV)
    if result.error is not None:
        return missing(result.error)
    if result.returncode != 0:
        first = (result.output.strip().splitlines() or ["no output"])[0].strip()
        return missing(f"npu-smi {command} exited with {result.returncode}: {first[:200]}")
    for block in parse_npu_smi_usages(result.output):
        values = {key.lower(): value for key, value in block.other.items()}
        firmware = values.get("firmware version")
        if firmware and firmware not in ("NA", "-"):
            return found(firmware, f"npu-smi {command}", software_version=values.get("software version"))
    return missing(f"npu-smi {command} printed no Firmware Version")


def chips_field(snapshot: DeviceSnapshot | None, source: str) -> dict[str, Any]:
    """The chips of a device reading: names, HBM, count; null with the tool's own words when it failed."""
    if snapshot is None:
        return missing("no device reading was available")
    if snapshot.error is not None:
        return missing(snapshot.error)
    if not snapshot.chips:
        return missing(f"{snapshot.backend} listed no chips")
    chips = [{"npu": chip.npu, "chip": chip.chip, "name": chip.name, "health": chip.health,
              "hbm_total_mb": chip.hbm_total_mb, "memory_total_mb": chip.memory_total_mb}
             for chip in snapshot.chips]
    return found(chips, source, count=len(chips), backend=snapshot.backend, driver_version=snapshot.driver_version,
                 tool_version=snapshot.tool_version)


async def read_devices(runner: CommandRunner, env: Mapping[str, str]) -> tuple[DeviceSnapshot | None, str]:
    """One bounded device read (npu-smi, else nvidia-smi) when the caller has none at hand."""
    from tui.devices.backends import pick_backend

    backend = pick_backend("auto", env)
    if isinstance(backend, str):
        return DeviceSnapshot(backend="none", error=backend), "none"
    return await backend.read(runner, NPU_SMI_TIMEOUT_S), f"{backend.name} info"


async def capture_environment(
    *,
    command: Sequence[str] = (),
    env: Mapping[str, str],
    stage_python: str | None = None,
    ascend_root: Path = ascend_files.DEFAULT_ASCEND_ROOT,
    snapshot: DeviceSnapshot | None = None,
    runner: CommandRunner | None = None,
    system_root: Path = Path("/"),
) -> dict[str, Any]:
    """Everything `environment.json` holds, for a server started with `command` in environment `env`.

    `snapshot` is a device reading the caller already has (the console's last one); without it the
    chips are read once here. `ascend_root` and `system_root` move the files read (tests).
    """
    run = runner or SubprocessRunner(env)
    python, how = packages.serving_python(command, env, stage_python)
    source = "the console's last device reading"
    if snapshot is None:
        snapshot, source = await read_devices(run, env)
    first_npu = snapshot.chips[0].npu if snapshot is not None and snapshot.chips else 0
    versions, firmware = await asyncio.gather(
        packages.package_versions(run, python, how, env),
        firmware_version(run, env, ascend_root, first_npu),
    )
    cann, driver, os_field, cpu = await asyncio.to_thread(_files, env, ascend_root, system_root)
    chips = chips_field(snapshot, source)
    if driver["value"] is None and chips.get("driver_version"):  # the tool prints the driver's version too
        driver = found(chips["driver_version"], f"{chips['source']} (Version:)", file_reason=driver["reason"])
    return {
        "captured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "interpreter": versions["interpreter"],
        "interpreter_chosen_as": versions["interpreter_chosen_as"],
        "python": versions["python"],
        "packages": versions["packages"],
        "cann": cann,
        "driver": driver,
        "firmware": firmware,
        "chips": chips,
        "os": os_field,
        "cpu": cpu,
    }


def _files(env: Mapping[str, str], ascend_root: Path, system_root: Path) -> tuple[dict[str, Any], ...]:
    return (ascend_files.cann_version(env, ascend_root), ascend_files.driver_version(ascend_root),
            host.os_release(system_root), host.cpu_model(system_root))


async def write_environment(run_dir: Path, **capture: Any) -> str | None:
    """Capture and write `run_dir/environment.json`; None when written, else why not (one sentence)."""
    data = await capture_environment(**capture)
    try:
        await asyncio.to_thread(atomic_write_json, Path(run_dir) / ENVIRONMENT_FILE, data)
    except OSError as error:
        return f"could not write {Path(run_dir) / ENVIRONMENT_FILE}: {error.strerror or error}"
    return None
