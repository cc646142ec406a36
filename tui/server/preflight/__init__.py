"""Preflight: everything that would make a launch fail minutes in, checked in a second before it.

The usual bring-up mistakes (see the design notes' peers-and-pains) each get a
small check: the port is taken by yesterday's server, the ModelScope folder has
no weights, `ASCEND_RT_VISIBLE_DEVICES` names a chip that is not there or too few
for `-tp`, a leftover EngineCore still holds 58 GB of HBM, a variable name has a
typo, CANN's set_env.sh was never sourced. Each check returns a `Check` value
with a sentence saying what was found and, when it is not a pass, what to do;
where the console can do it (stop a leftover server) the check carries an
`Offer` for the UI. Headless: stdlib and psutil only.

Modules: `check` (the values), `plan_args` (options read back from the argv),
`port`, `model`, `devices`, `env_checks`, and `run` (all of them in order).
"""

from __future__ import annotations

from tui.server.preflight.check import Check, CheckStatus, Offer, OfferKind
from tui.server.preflight.devices import (
    DeviceUse,
    check_hbm,
    check_leftovers,
    check_visible_devices,
    chip_for,
    chip_label,
    device_use,
    host_logic_ids,
)
from tui.server.preflight.env_checks import (
    check_env_names,
    check_multiproc_method,
    check_npu_smi,
    check_sourced_files,
)
from tui.server.preflight.model import check_model, check_model_source
from tui.server.preflight.plan_args import ParallelSizes, gpu_memory_utilization, option_value, parallel_sizes
from tui.server.preflight.port import Listener, check_port, find_listeners, listen_address
from tui.server.preflight.run import run_preflight

__all__ = [
    "Check",
    "CheckStatus",
    "DeviceUse",
    "Listener",
    "Offer",
    "OfferKind",
    "ParallelSizes",
    "check_env_names",
    "check_hbm",
    "check_leftovers",
    "check_model",
    "check_model_source",
    "check_multiproc_method",
    "check_npu_smi",
    "check_port",
    "check_sourced_files",
    "check_visible_devices",
    "chip_for",
    "chip_label",
    "device_use",
    "find_listeners",
    "gpu_memory_utilization",
    "host_logic_ids",
    "listen_address",
    "option_value",
    "parallel_sizes",
    "run_preflight",
]
