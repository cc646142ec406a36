"""The shared state of the simulated NPU host: a folder of small JSON files.

The simulated `npu-smi` and the simulated `vllm serve` are separate programs
started at different times by different parents, so they meet on disk:

- `host.json` describes the machine (chips, bus ids, HBM, baseline use, versions);
  it is written once by `tui.sim.demo` (`HostSpec.to_json()`) and only read afterwards.
- `servers/<pid>.json` is one record per running simulated process: which chips
  it uses and what it holds there right now. Each process writes only its own
  record, always atomically, so a reader never sees half a file.

A process that crashes cannot remove its record, exactly like a real process
that dies holding device memory until the driver notices. Readers therefore
check that each record's pid still lives (and is the same process, not a reused
pid) and delete the records of dead ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tui.files.atomic import atomic_write_json
from tui.processes.commands import pid_exists

HOST_FILE = "host.json"
INSTALL_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) this code runs from
SERVERS_DIR = "servers"

CHIP_NAME = "910B3"
HBM_TOTAL_MB = 65536
TOOL_VERSION = "24.1.0"
DRIVER_VERSION = "24.1.0"

# Bus ids, idle HBM use and idle sensors of the eight 910B3 chips in the real
# 8-NPU sample this host imitates (fixture 001), so the idle table looks lived-in.
_BUS_IDS = (
    "0000:C1:00.0",
    "0000:C2:00.0",
    "0000:81:00.0",
    "0000:82:00.0",
    "0000:01:00.0",
    "0000:02:00.0",
    "0000:41:00.0",
    "0000:42:00.0",
)
_BASELINE_HBM_MB = (3318, 3314, 3314, 3314, 3314, 3314, 3314, 3315)
_IDLE_POWER_W = (101.8, 92.0, 102.0, 99.8, 98.6, 99.7, 103.8, 98.2)
_IDLE_TEMP_C = (43, 39, 40, 40, 45, 44, 45, 44)

ROLE_API_SERVER = "api_server"
ROLE_ENGINE_CORE = "engine_core"


@dataclass(frozen=True)
class ChipSpec:
    """One chip as `npu-smi` sees it; on a 910B each NPU card carries one chip."""

    npu_id: int
    chip_id: int
    logic_id: int
    name: str
    bus_id: str
    hbm_total_mb: int
    baseline_hbm_mb: int
    idle_power_w: float
    idle_temp_c: int


@dataclass(frozen=True)
class HostSpec:
    """The static description of the machine."""

    tool_version: str
    driver_version: str
    chips: tuple[ChipSpec, ...]

    def chip_by_logic_id(self, logic_id: int) -> ChipSpec | None:
        """The chip a process addresses as device `logic_id` (ASCEND_RT_VISIBLE_DEVICES numbering)."""
        for chip in self.chips:
            if chip.logic_id == logic_id:
                return chip
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "tool_version": self.tool_version,
            "driver_version": self.driver_version,
            "chips": [asdict(chip) for chip in self.chips],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostSpec:
        """Build from `to_json()` output; raises KeyError/TypeError/ValueError on a malformed file."""
        chips = tuple(
            ChipSpec(
                npu_id=int(c["npu_id"]),
                chip_id=int(c["chip_id"]),
                logic_id=int(c["logic_id"]),
                name=str(c["name"]),
                bus_id=str(c["bus_id"]),
                hbm_total_mb=int(c["hbm_total_mb"]),
                baseline_hbm_mb=int(c["baseline_hbm_mb"]),
                idle_power_w=float(c["idle_power_w"]),
                idle_temp_c=int(c["idle_temp_c"]),
            )
            for c in data["chips"]
        )
        if not chips:
            raise ValueError("host.json lists no chips")
        return cls(str(data["tool_version"]), str(data["driver_version"]), chips)


def default_host() -> HostSpec:
    """Eight 910B3 chips with 64 GiB HBM each, driver and tool 24.1.0."""
    chips = tuple(
        ChipSpec(
            npu_id=index,
            chip_id=0,
            logic_id=index,
            name=CHIP_NAME,
            bus_id=_BUS_IDS[index],
            hbm_total_mb=HBM_TOTAL_MB,
            baseline_hbm_mb=_BASELINE_HBM_MB[index],
            idle_power_w=_IDLE_POWER_W[index],
            idle_temp_c=_IDLE_TEMP_C[index],
        )
        for index in range(8)
    )
    return HostSpec(TOOL_VERSION, DRIVER_VERSION, chips)


def install_sim_home(data_root: Path, install_root: Path = INSTALL_ROOT, python: str | None = None) -> Path:
    """The simulated host's folder for this install: `data_root/sim/<checkout>-<hash>`.

    The shims in `bin/` run one checkout's code with one interpreter, so two
    checkouts (or two virtual environments) each get their own folder: a demo
    started from one never runs another's simulator. The name starts with the
    checkout's folder name so that an operator can tell them apart.
    """
    python = python or sys.executable
    key = f"{install_root}\0{python}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(key).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", install_root.name)[:40] or "install"
    return data_root / "sim" / f"{readable}-{digest}"


def read_host(home: Path | None) -> HostSpec:
    """The host described in `home`, or the default host when the folder or file is missing or broken.

    `npu-smi` must print a valid table even on a half-prepared demo home, so a
    broken file is not an error here.
    """
    if home is None:
        return default_host()
    try:
        data = json.loads((home / HOST_FILE).read_text(encoding="utf-8"))
        return HostSpec.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return default_host()


@dataclass(frozen=True)
class ServerRecord:
    """What one simulated process holds on the device, as of its last write.

    `chips` are logic ids (the numbering of ASCEND_RT_VISIBLE_DEVICES);
    `hbm_mb` is held on each of them. `name` is the kernel `comm` name (at most
    15 characters) that the real `npu-smi` prints in its process table.
    """

    pid: int
    role: str
    chips: tuple[int, ...]
    hbm_mb: int = 0
    util_pct: int = 0
    name: str = "python3"
    parent_pid: int | None = None
    port: int | None = None
    model: str | None = None
    served_model_names: tuple[str, ...] = ()
    started_at: float = 0.0
    proc_start: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chips"] = list(self.chips)
        data["served_model_names"] = list(self.served_model_names)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerRecord:
        return cls(
            pid=int(data["pid"]),
            role=str(data["role"]),
            chips=tuple(int(c) for c in data.get("chips", ())),
            hbm_mb=int(data.get("hbm_mb", 0)),
            util_pct=int(data.get("util_pct", 0)),
            name=str(data.get("name", ""))[:15],
            parent_pid=_optional_int(data.get("parent_pid")),
            port=_optional_int(data.get("port")),
            model=None if data.get("model") is None else str(data["model"]),
            served_model_names=tuple(str(n) for n in data.get("served_model_names", ())),
            started_at=float(data.get("started_at", 0.0)),
            proc_start=None if data.get("proc_start") is None else str(data["proc_start"]),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def servers_dir(home: Path) -> Path:
    return home / SERVERS_DIR


def record_path(home: Path, pid: int) -> Path:
    return servers_dir(home) / f"{pid}.json"


def process_comm(pid: int, default: str = "python3") -> str:
    """The kernel `comm` name of `pid` (what npu-smi prints), or `default` where /proc is missing."""
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8", errors="replace").strip()[:15] or default
    except OSError:
        return default


def process_start_token(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), to tell a live process from a reused pid.

    None where /proc is not available; callers then rely on the pid alone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 22 (starttime) counted after the ")" that closes the command name.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int, proc_start: str | None = None) -> bool:
    """True when `pid` runs and is not a zombie (and, if known, started when the record says)."""
    if not pid_exists(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    rest = stat.rpartition(")")[2].split()
    if rest and rest[0] in ("Z", "X"):
        return False
    return not (proc_start is not None and len(rest) > 19 and rest[19] != proc_start)


def write_record(home: Path, record: ServerRecord) -> None:
    """Publish `record` as `servers/<pid>.json`, atomically."""
    atomic_write_json(record_path(home, record.pid), record.to_json())


def remove_record(home: Path, pid: int) -> None:
    """Withdraw the record of `pid`; a record already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        record_path(home, pid).unlink()


def live_records(home: Path | None, clean: bool = True) -> list[ServerRecord]:
    """The records of processes that still run, sorted by pid; stale ones are deleted when `clean`."""
    if home is None:
        return []
    directory = servers_dir(home)
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError:
        return []
    records: list[ServerRecord] = []
    for path in paths:
        try:
            record = ServerRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being replaced right now, or not ours: skip, never delete
        if pid_alive(record.pid, record.proc_start):
            records.append(record)
        elif clean:
            with contextlib.suppress(OSError):
                path.unlink()
    records.sort(key=lambda r: r.pid)
    return records
