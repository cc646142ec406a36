"""Running one stage as a subprocess, and the evidence it leaves behind.

* ``process`` — `StageRun`: the subprocess, its events, cancel, its `StageOutcome` (``outcome``);
* ``environment`` — PYTHONPATH and the environment a stage Python gets;
* ``pipes`` — stdout/stderr read line by line, bounded;
* ``evidence`` — `stage.json`, `events.jsonl`, `stderr.log`, `result.json` in the stage folder;
* ``progress`` — the smoothed rate and ETA of a progress bar;
* ``device_queue`` — one heavy stage per device at a time;
* ``listing`` — past stage runs in a run directory.
"""

from tui.stages.runner.device_queue import DeviceQueue
from tui.stages.runner.environment import importable_root, package_root, stage_env
from tui.stages.runner.evidence import EVENTS_FILE, RESULT_FILE, STAGE_META, STDERR_FILE
from tui.stages.runner.listing import StageRunInfo, list_stage_runs, summarize_result
from tui.stages.runner.outcome import EndState, StageOutcome, StageState
from tui.stages.runner.process import StageRun
from tui.stages.runner.progress import ProgressMeter, ProgressReading

__all__ = [
    "EVENTS_FILE",
    "RESULT_FILE",
    "STAGE_META",
    "STDERR_FILE",
    "DeviceQueue",
    "EndState",
    "ProgressMeter",
    "ProgressReading",
    "StageOutcome",
    "StageRun",
    "StageRunInfo",
    "StageState",
    "importable_root",
    "list_stage_runs",
    "package_root",
    "stage_env",
    "summarize_result",
]
