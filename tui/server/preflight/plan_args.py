"""Reading the few vLLM options the preflight needs back out of a launch plan's argv.

The argv is the truth (a variant or `extra_args` may override what the profile's
flag table says), so options are read from it the way argparse would: the last
occurrence wins, `--name value` and `--name=value` both count, and vLLM's
underscore spelling (`--tensor_parallel_size`) is the same option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_GPU_MEMORY_UTILIZATION = 0.9


@dataclass(frozen=True)
class ParallelSizes:
    """How many chips one server on this host needs: tensor × pipeline × local data parallel."""

    tensor: int = 1
    pipeline: int = 1
    data_local: int = 1

    @property
    def chips(self) -> int:
        return self.tensor * self.pipeline * self.data_local

    def describe(self) -> str:
        """`tensor-parallel 2 × pipeline-parallel 1`, plus the data-parallel factor when there is one."""
        text = f"tensor-parallel {self.tensor} × pipeline-parallel {self.pipeline}"
        return text + (f" × data-parallel {self.data_local}" if self.data_local != 1 else "")


def option_value(argv: Sequence[str], *names: str) -> str | None:
    """The value of the last of `names` in `argv` (`--x v` or `--x=v`); None when absent."""
    wanted = {_normal(name) for name in names}
    value: str | None = None
    for index, word in enumerate(argv):
        if not word.startswith("-"):
            continue
        name, sep, inline = word.partition("=")
        if _normal(name) not in wanted:
            continue
        if sep:
            value = inline
        elif index + 1 < len(argv):
            value = argv[index + 1]
    return value


def parallel_sizes(argv: Sequence[str]) -> ParallelSizes:
    """The parallel sizes the server will run with; unreadable values count as vLLM's default 1."""
    local = _positive(option_value(argv, "--data-parallel-size-local", "-dpl"))
    return ParallelSizes(
        tensor=_positive(option_value(argv, "--tensor-parallel-size", "-tp")) or 1,
        pipeline=_positive(option_value(argv, "--pipeline-parallel-size", "-pp")) or 1,
        data_local=local or _positive(option_value(argv, "--data-parallel-size", "-dp")) or 1,
    )


def gpu_memory_utilization(argv: Sequence[str]) -> float:
    """`--gpu-memory-utilization`, or vLLM's default 0.9 when absent or not a fraction in (0, 1]."""
    raw = option_value(argv, "--gpu-memory-utilization")
    try:
        value = float(raw) if raw is not None else DEFAULT_GPU_MEMORY_UTILIZATION
    except ValueError:
        return DEFAULT_GPU_MEMORY_UTILIZATION
    return value if 0 < value <= 1 else DEFAULT_GPU_MEMORY_UTILIZATION


def _positive(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def _normal(name: str) -> str:
    """`--tensor_parallel_size` and `--tensor-parallel-size` are one option to vLLM's parser."""
    return name.replace("_", "-")
