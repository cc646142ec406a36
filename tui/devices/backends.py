"""Where device snapshots come from: npu-smi, nvidia-smi, or saved outputs replayed.

A backend is asked for one snapshot at a time, with a command runner and a
time bound; the poller (not here) decides how often. Every failure comes back
as a snapshot whose `error` is a sentence, never as an exception: a missing
tool, a hang (npu-smi inside a container with a mismatched vNPU library waits
forever), a non-zero exit. The whole read stays within `timeout`: when a
backend runs two commands, the second gets what the first left.

`pick_backend` chooses one from what this host has; it returns the sentence
to show when it has nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal, Protocol

from tui.devices import locate
from tui.devices.npu_smi_parser import BACKEND as NPU_SMI
from tui.devices.npu_smi_parser import parse_npu_smi_info, parse_npu_smi_mapping, parse_npu_smi_usages
from tui.devices.nvidia_smi import BACKEND as NVIDIA_SMI
from tui.devices.nvidia_smi import (
    apps_query_argv,
    gpu_query_argv,
    looks_like_nvidia_smi,
    parse_nvidia_smi,
    parse_nvidia_smi_text,
)
from tui.devices.snapshot import ChipMapping, ChipUsage, DeviceSnapshot
from tui.processes.commands import CommandResult, CommandRunner

BackendKind = Literal["auto", "npu", "nvidia", "replay"]
BACKEND_KINDS: tuple[str, ...] = ("auto", "npu", "nvidia", "replay")

#: npu-smi prints its table in English under LC_ALL=C; a Chinese locale can translate error texts.
NPU_SMI_ENV = {"LC_ALL": "C"}
#: After the first read, `npu-smi info -m` runs again only every this many reads (the mapping rarely changes).
MAPPING_EVERY = 120
#: Below this much time left, the second command of a read is skipped rather than started doomed.
MIN_SECOND_COMMAND_S = 0.2


class DeviceBackend(Protocol):
    """Gives one snapshot per call, within `timeout` seconds, never raising for the tool's failures."""

    @property
    def name(self) -> str: ...

    async def read(self, runner: CommandRunner, timeout: float) -> DeviceSnapshot: ...


def failure_snapshot(backend: str, result: CommandResult) -> DeviceSnapshot | None:
    """A snapshot for a command that could not run or did not finish; None when it ran to its end."""
    if result.error is None:
        return None
    return DeviceSnapshot(backend=backend, error=result.error)


def _exit_error(tool: str, result: CommandResult, snapshot: DeviceSnapshot) -> DeviceSnapshot:
    """A non-zero exit that printed nothing we recognise as its error still gets an error sentence."""
    if result.returncode in (0, None) or snapshot.error is not None or snapshot.chips:
        return snapshot
    said = result.output.strip().splitlines()
    detail = f": {said[-1].strip()}" if said else " and printed nothing"
    return replace(snapshot, error=f"{tool} exited with status {result.returncode}{detail}")


class NpuSmiBackend:
    """Runs `npu-smi info` (and, on the first read and then every MAPPING_EVERY reads, `npu-smi info -m`)."""

    def __init__(self, path: str, *, mapping_every: int = MAPPING_EVERY) -> None:
        self.path = path
        self._mapping: tuple[ChipMapping, ...] = ()
        self._mapping_every = max(1, mapping_every)
        self._reads = 0

    @property
    def name(self) -> str:
        return NPU_SMI

    async def read(self, runner: CommandRunner, timeout: float) -> DeviceSnapshot:
        deadline = time.monotonic() + timeout
        result = await runner.run([self.path, "info"], timeout=timeout, env=NPU_SMI_ENV)
        failed = failure_snapshot(NPU_SMI, result)
        if failed is not None:
            return replace(failed, mapping=self._mapping)
        snapshot = _exit_error("npu-smi", result, parse_npu_smi_info(result.output))
        if snapshot.chips:
            snapshot = await self._refresh_mapping(runner, deadline, snapshot)
        return replace(snapshot, mapping=self._mapping)

    async def _refresh_mapping(self, runner: CommandRunner, deadline: float, snapshot: DeviceSnapshot
                               ) -> DeviceSnapshot:
        """Run `npu-smi info -m` when due and time is left; a failure is a warning, and a retry next read."""
        due = self._reads % self._mapping_every == 0
        self._reads += 1
        if not due:
            return snapshot
        left = deadline - time.monotonic()
        if left <= MIN_SECOND_COMMAND_S:
            self._reads = 0
            return snapshot
        mapped = await runner.run([self.path, "info", "-m"], timeout=left, env=NPU_SMI_ENV)
        if mapped.error is None and mapped.returncode == 0:
            self._mapping = parse_npu_smi_mapping(mapped.output).mapping
            return snapshot
        self._reads = 0
        why = mapped.error or (mapped.output.strip().splitlines() or ["it printed nothing"])[-1]
        return replace(snapshot, warnings=(*snapshot.warnings, f"npu-smi info -m failed: {why}"))


async def read_npu_usages(
    path: str, runner: CommandRunner, npu: int, timeout: float
) -> tuple[list[ChipUsage], str | None]:
    """`npu-smi info -t usages -i NPU`: the per-chip rates for the detail view, or why there are none."""
    result = await runner.run([path, "info", "-t", "usages", "-i", str(npu)], timeout=timeout, env=NPU_SMI_ENV)
    if result.error is not None:
        return [], result.error
    usages = parse_npu_smi_usages(result.output)
    if not usages:
        said = result.output.strip().splitlines()
        return [], said[-1] if said else f"npu-smi printed no usage rates for NPU {npu}"
    return usages, None


class NvidiaSmiBackend:
    """Runs the two nvidia-smi CSV queries (GPUs, then compute apps) within one time bound."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return NVIDIA_SMI

    async def read(self, runner: CommandRunner, timeout: float) -> DeviceSnapshot:
        deadline = time.monotonic() + timeout
        gpus = await runner.run(gpu_query_argv(self.path), timeout=timeout)
        failed = failure_snapshot(NVIDIA_SMI, gpus)
        if failed is not None:
            return failed
        apps_text = ""
        extra: list[str] = []
        left = deadline - time.monotonic()
        if gpus.returncode == 0 and left > MIN_SECOND_COMMAND_S:
            apps = await runner.run(apps_query_argv(self.path), timeout=left)
            if apps.error is None and apps.returncode == 0:
                apps_text = apps.output
            else:
                extra.append(f"nvidia-smi --query-compute-apps: {apps.error or apps.output.strip()}")
        snapshot = _exit_error("nvidia-smi", gpus, parse_nvidia_smi(gpus.output, apps_text))
        return replace(snapshot, warnings=(*snapshot.warnings, *extra)) if extra else snapshot


def parse_saved_output(text: str) -> DeviceSnapshot:
    """A saved output of either tool: nvidia-smi CSV is told apart from npu-smi text by its rows."""
    if looks_like_nvidia_smi(text):
        return parse_nvidia_smi_text(text)
    return parse_npu_smi_info(text)


class ReplayBackend:
    """Plays saved outputs back, one file per read, round and round (the demo, tests, a bug report).

    A file that cannot be read gives a snapshot with the error, and the next read moves on.
    """

    def __init__(self, files: Sequence[str | Path]) -> None:
        self.files = tuple(Path(file) for file in files)
        self._next = 0

    @property
    def name(self) -> str:
        return "replay"

    async def read(self, runner: CommandRunner, timeout: float) -> DeviceSnapshot:
        if not self.files:
            return DeviceSnapshot(backend="replay", error="There is no saved output to replay; pass --file F")
        path = self.files[self._next % len(self.files)]
        self._next += 1
        try:
            text = await asyncio.wait_for(asyncio.to_thread(path.read_text, "utf-8", "replace"), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or "it could not be read in time"
            return DeviceSnapshot(
                backend="replay", error=f"Could not read the saved output {path}: {reason}."
            )
        return parse_saved_output(text)


def pick_backend(
    kind: str, env: Mapping[str, str] | None = None, files: Sequence[str | Path] = ()
) -> DeviceBackend | str:
    """The backend for `kind`, or the sentence to show when this host cannot give one.

    `auto` prefers npu-smi (an Ascend host may also have nvidia-smi for a display card), then nvidia-smi.
    """
    if kind == "replay":
        if not files:
            return "The replay backend needs at least one saved output; pass --file F."
        return ReplayBackend(files)
    if kind in ("auto", "npu"):
        npu_smi = locate.find_npu_smi(env)
        if npu_smi is not None:
            return NpuSmiBackend(npu_smi)
        if kind == "npu":
            return (
                f"npu-smi was not found on PATH or in {', '.join(locate.NPU_SMI_DIRS)}; install the Ascend "
                "driver or add its tools folder to PATH."
            )
    if kind in ("auto", "nvidia"):
        nvidia_smi = locate.find_nvidia_smi(env)
        if nvidia_smi is not None:
            return NvidiaSmiBackend(nvidia_smi)
        if kind == "nvidia":
            return "nvidia-smi was not found on PATH; install the NVIDIA driver or add it to PATH."
        return locate.not_found_sentence()
    return f"Unknown device backend {kind!r}; choose one of {', '.join(BACKEND_KINDS)}."
