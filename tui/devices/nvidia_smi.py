"""Reading `nvidia-smi`'s CSV queries into the same snapshot as npu-smi.

The console serves plain vLLM on NVIDIA hosts too, and the device panel should
not care which vendor it draws. Two queries give what the panel needs:
`--query-gpu` for one row per GPU and `--query-compute-apps` for the
processes, both as `--format=csv,noheader,nounits` (values joined by `, `,
numbers without units). GPU memory is HBM (or GDDR) on the card, so it goes
to the `hbm_*` fields; `memory_*` stays None, as does everything nvidia-smi has
no column for (chip index, hugepages, health). A value nvidia-smi cannot give
is printed in brackets (`[N/A]`, `[Not Supported]`, `[Unknown Error]`) and is
None here. Processes are matched to GPUs by bus id, because the apps query
has no GPU index.
"""

from __future__ import annotations

import re

from tui.devices.npu_smi_cells import Reader
from tui.devices.snapshot import ChipReading, DeviceProcess, DeviceSnapshot

BACKEND = "nvidia-smi"
GPU_FIELDS = (
    "index", "name", "pci.bus_id", "temperature.gpu", "power.draw", "utilization.gpu", "memory.used",
    "memory.total", "driver_version",
)
APP_FIELDS = ("gpu_bus_id", "pid", "process_name", "used_memory")
CSV_FORMAT = "--format=csv,noheader,nounits"

BUS_ID = re.compile(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")
ERROR_FRAGMENTS = (
    "nvidia-smi has failed",
    "failed to initialize nvml",
    "no devices were found",
    "couldn't communicate with the nvidia driver",
    "command not found",
    "no such file or directory",
    "unable to determine the device handle",
    "gpu is lost",
    "insufficient permissions",
)


def gpu_query_argv(path: str) -> list[str]:
    """The per-GPU query; the field order is what `parse_gpu_rows` expects."""
    return [path, f"--query-gpu={','.join(GPU_FIELDS)}", CSV_FORMAT]


def apps_query_argv(path: str) -> list[str]:
    return [path, f"--query-compute-apps={','.join(APP_FIELDS)}", CSV_FORMAT]


def _value(text: str) -> str | None:
    """A CSV cell, or None for nvidia-smi's bracketed "no value" markers."""
    text = text.strip()
    if not text or (text.startswith("[") and text.endswith("]")):
        return None
    return text


def _fields(line: str) -> list[str]:
    return [part.strip() for part in line.split(",")]


def is_gpu_row(line: str) -> bool:
    fields = _fields(line)
    return len(fields) >= len(GPU_FIELDS) and fields[0].isdigit() and BUS_ID.match(fields[-7]) is not None


def is_app_row(line: str) -> bool:
    fields = _fields(line)
    return len(fields) >= len(APP_FIELDS) and BUS_ID.match(fields[0]) is not None


def looks_like_nvidia_smi(text: str) -> bool:
    """True for saved nvidia-smi CSV or an nvidia-smi error, so replay and `--file` tell it from npu-smi."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        lowered = line.lower()
        return (
            is_gpu_row(line) or is_app_row(line) or "nvidia-smi" in lowered or "nvml" in lowered
            or lowered.startswith("no devices were found")
        )
    return False


class _Collector:
    __slots__ = ("chips", "driver_version", "error", "processes", "read", "warnings")

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.read = Reader(self.warnings)
        self.chips: list[ChipReading] = []
        self.processes: list[tuple[str, DeviceProcess]] = []
        self.driver_version: str | None = None
        self.error: str | None = None

    def gpu(self, line: str) -> None:
        fields = _fields(line)
        extra = len(fields) - len(GPU_FIELDS)  # a comma inside the GPU name
        name = ", ".join(fields[1:2 + extra])
        index, bus, temp, power, util, used, total, driver = (fields[0], *fields[2 + extra:])
        where = f"GPU {index}"
        npu = self.read.integer(index, "the GPU index", "nvidia-smi")
        if npu is None:
            self.warnings.append(line)
            return
        self.driver_version = self.driver_version or _value(driver)
        self.chips.append(ChipReading(
            npu=npu, chip=None, phy_id=None, name=_value(name), health=None,
            power_w=self.read.number(_value(power), "power.draw", where),
            temp_c=self.read.integer(_value(temp), "temperature.gpu", where),
            hugepages_used=None, hugepages_total=None, bus_id=_value(bus),
            util_pct=self.read.integer(_value(util), "utilization.gpu", where),
            memory_used_mb=None, memory_total_mb=None,
            hbm_used_mb=self.read.integer(_value(used), "memory.used", where),
            hbm_total_mb=self.read.integer(_value(total), "memory.total", where),
        ))

    def app(self, line: str) -> None:
        fields = _fields(line)
        bus, pid_text, memory = fields[0], fields[1], fields[-1]
        name = ", ".join(fields[2:-1])
        pid = self.read.integer(_value(pid_text), "the pid", "nvidia-smi process")
        if pid is None:
            self.warnings.append(line)
            return
        process = DeviceProcess(
            npu=-1, chip=None, pid=pid, container_pid=None, name=_value(name),
            memory_mb=self.read.integer(_value(memory), "used_memory", f"process {pid}"),
        )
        self.processes.append((bus, process))

    def other(self, line: str) -> None:
        lowered = line.lower()
        if self.error is None and any(fragment in lowered for fragment in ERROR_FRAGMENTS):
            self.error = line
        else:
            self.warnings.append(line)

    def snapshot(self) -> DeviceSnapshot:
        index_of = {_bus_key(chip.bus_id): chip.npu for chip in self.chips if chip.bus_id}
        processes = []
        for bus, process in self.processes:
            npu = index_of.get(_bus_key(bus))
            if npu is None:
                self.warnings.append(f"process {process.pid} is on {bus}, which the GPU query did not list")
                continue
            processes.append(DeviceProcess(
                npu=npu, chip=None, pid=process.pid, container_pid=None, name=process.name,
                memory_mb=process.memory_mb,
            ))
        return DeviceSnapshot(
            backend=BACKEND, tool_version=None, driver_version=self.driver_version, chips=tuple(self.chips),
            processes=tuple(processes), warnings=tuple(self.warnings), error=self.error,
        )


def _bus_key(bus: str) -> str:
    """`00000000:18:00.0` and `0000:18:00.0` are one device; compare without the domain's zero padding."""
    domain, _, rest = bus.partition(":")
    return f"{domain.lstrip('0')}:{rest}".upper()


def parse_nvidia_smi(gpu_csv: str, apps_csv: str = "") -> DeviceSnapshot:
    """The snapshot from the two query outputs; either may also hold nvidia-smi's error text. Never raises."""
    return parse_nvidia_smi_text(gpu_csv + "\n" + apps_csv)


def parse_nvidia_smi_text(text: str) -> DeviceSnapshot:
    """The snapshot from one text holding GPU rows and app rows in any order (a saved replay file)."""
    collector = _Collector()
    try:
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if is_gpu_row(line):
                collector.gpu(line)
            elif is_app_row(line):
                collector.app(line)
            else:
                collector.other(line)
        return collector.snapshot()
    except Exception as exc:  # never raise on input
        return DeviceSnapshot(
            backend=BACKEND, warnings=(*collector.warnings, f"npu-console could not read the output ({exc})")
        )
