"""Fake `npu-smi` and `nvidia-smi` executables for tests: real scripts that print saved outputs.

Real executables, run through the real `SubprocessRunner`, so argv, environment,
exit status, stderr and timeouts take the same path as on a real host.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.devices.shared_corpus import OWN_FIXTURES

NPU_TABLE = OWN_FIXTURES / "npu-smi" / "A3_Ascend910_8npu-16chip_busy-procs_25.2.0.txt"
NPU_MAPPING = OWN_FIXTURES / "npu-smi" / "A3_info-m_2npu-4chip_phy-id-column_real-tabs.txt"
NVIDIA = OWN_FIXTURES / "nvidia-smi"


def script(folder: Path, name: str, body: str) -> Path:
    """An executable `/bin/sh` script `name` in `folder` running `body`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    # The tests may narrow PATH to a folder of fake tools; the script still needs cat and sleep.
    header = '#!/bin/sh\nPATH="/usr/local/bin:/usr/bin:/bin:$PATH"; export PATH\n'
    path.write_text(header + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_npu_smi(folder: Path, log: Path) -> Path:
    """Prints the A3 table for `info`, the mapping for `info -m`, and logs each call with its LC_ALL."""
    return script(folder, "npu-smi", (
        f'echo "$* LC_ALL=$LC_ALL" >> "{log}"\n'
        f'if [ "$2" = "-m" ]; then cat "{NPU_MAPPING}"; exit 0; fi\n'
        f'cat "{NPU_TABLE}"\n'
    ))


def fake_nvidia_smi(folder: Path) -> Path:
    """Answers the GPU and compute-apps queries with the 8 x H100 fixtures."""
    return script(folder, "nvidia-smi", (
        'case "$1" in\n'
        f'  --query-gpu=*) cat "{NVIDIA / "h100-sxm_8gpu_query-gpu.csv"}" ;;\n'
        f'  --query-compute-apps=*) cat "{NVIDIA / "h100-sxm_8gpu_query-compute-apps.csv"}" ;;\n'
        '  *) echo "unexpected $*" >&2; exit 2 ;;\n'
        'esac\n'
    ))


