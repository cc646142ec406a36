"""Finding the device tools on hosts whose PATH does not list them.

A non-interactive SSH session (and many container entrypoints) gets a PATH
without the Ascend driver folders, so `npu-smi` is looked for on PATH first and
then where the driver installs it.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.processes.commands import find_executable

NPU_SMI_DIRS = ("/usr/local/sbin", "/usr/local/Ascend/driver/tools", "/usr/local/bin")


def find_npu_smi(env: Mapping[str, str] | None = None) -> str | None:
    """The path of `npu-smi`, or None when this host has none."""
    return find_executable("npu-smi", env, NPU_SMI_DIRS)


def find_nvidia_smi(env: Mapping[str, str] | None = None) -> str | None:
    """The path of `nvidia-smi`, or None."""
    return find_executable("nvidia-smi", env, ("/usr/bin", "/usr/local/nvidia/bin"))


def not_found_sentence() -> str:
    """What to tell the operator when neither tool is there."""
    places = ", ".join(NPU_SMI_DIRS)
    return (
        f"Neither npu-smi nor nvidia-smi was found on PATH or in {places}. "
        "On an Ascend host, install the NPU driver or add its tools folder to PATH; "
        "to try the console without hardware, run `npu-console --demo`."
    )
