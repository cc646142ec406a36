"""Prepare a folder that makes any machine look like an 8-chip Ascend 910B3 host.

`npu-console --demo` and the tests call `prepare_demo_host(home)` and then run
commands with `DemoHost.env()`: PATH starts with `home/bin`, where `npu-smi` and
`vllm` are small shell shims that run the simulated programs with this very
Python, and `NPU_CONSOLE_SIM_HOME` points the simulation at `home`. The console
itself needs no demo branch: it runs `npu-smi info` and `vllm serve …` exactly
as on a real host and gets simulated answers.

Preparing is idempotent: files already right are left alone, so a running demo
server is not disturbed by a second call.
"""

from __future__ import annotations

import json
import os
import shlex
import site
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.files.atomic import atomic_write_text
from tui.sim.demo_models import DEMO_MODELS
from tui.sim.host import HOST_FILE, SERVERS_DIR, default_host
from tui.sim.settings import SIM_HOME_ENV

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
SHIMS = {"npu-smi": "tui.sim.npu_smi", "vllm": "tui.sim.vllm_serve"}
DEFAULT_MODEL = "Qwen2.5-0.5B-Instruct"
THINKING_MODEL = "Qwen3-4B-Thinking-2507"


@dataclass(frozen=True)
class DemoHost:
    """A prepared simulated host."""

    home: Path

    @property
    def bin_dir(self) -> Path:
        return self.home / "bin"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def model_dir(self, name: str = DEFAULT_MODEL) -> Path:
        """The folder of one of the simulated models (`Qwen2.5-0.5B-Instruct`, `Qwen3-4B-Thinking-2507`)."""
        if name not in DEMO_MODELS:
            raise KeyError(f"no simulated model named {name!r}; have {sorted(DEMO_MODELS)}")
        return self.models_dir / name

    def env(self, base_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base_env` (default: this process's) with the shims first on PATH and the sim home set."""
        env = dict(os.environ if base_env is None else base_env)
        path = env.get("PATH", os.defpath)
        entries = [entry for entry in path.split(os.pathsep) if entry and entry != str(self.bin_dir)]
        env["PATH"] = os.pathsep.join([str(self.bin_dir), *entries])
        env[SIM_HOME_ENV] = str(self.home)
        return env


def _needs_pythonpath() -> bool:
    """True when `tui` is importable here only thanks to the current directory or sys.path edits."""
    installed = {Path(p).resolve() for p in site.getsitepackages() if p}
    user_site = site.getusersitepackages()
    if isinstance(user_site, str) and user_site:
        installed.add(Path(user_site).resolve())
    return PACKAGE_ROOT not in installed


def shim_text(module: str, python: str | None = None) -> str:
    """The `#!/bin/sh` script that runs `python -m module "$@"`."""
    interpreter = shlex.quote(python or sys.executable)
    lines = [
        "#!/bin/sh",
        f"# npu-console demo shim: runs the simulated tool {module}. Written by tui.sim.demo.",
    ]
    if _needs_pythonpath():
        root = shlex.quote(str(PACKAGE_ROOT))
        lines.append(f"PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}")
        lines.append("export PYTHONPATH")
    lines.append(f'exec {interpreter} -m {module} "$@"')
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str, mode: int = 0o644) -> None:
    try:
        if path.read_text(encoding="utf-8") == text and stat.S_IMODE(path.stat().st_mode) == mode:
            return
    except OSError:
        pass
    atomic_write_text(path, text, mode=mode)


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def prepare_demo_host(home: Path) -> DemoHost:
    """Create (or complete) the simulated host in `home` and return its handle."""
    home = Path(home).resolve()
    demo = DemoHost(home)
    (home / SERVERS_DIR).mkdir(parents=True, exist_ok=True)
    _write_if_changed(home / HOST_FILE, _json_text(default_host().to_json()))
    demo.bin_dir.mkdir(parents=True, exist_ok=True)
    for name, module in SHIMS.items():
        _write_if_changed(demo.bin_dir / name, shim_text(module), mode=0o755)
    for model, files in DEMO_MODELS.items():
        folder = demo.models_dir / model
        folder.mkdir(parents=True, exist_ok=True)
        for filename, content in files.items():
            _write_if_changed(folder / filename, _json_text(content))
    return demo
