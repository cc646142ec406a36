"""Start-up phases: entered once, in line order, timed from vLLM's `MM-DD HH:MM:SS` stamps."""

from __future__ import annotations

from tui.server.logfacts import PHASE_LABELS, PHASE_ORDER, LogFacts, Phase
from tui.server.logfacts.phases import PhaseTracker, seconds_between, stamp_seconds


def test_stamps_and_differences() -> None:
    assert stamp_seconds("01-01 00:00:01") == 1
    assert stamp_seconds("not a stamp") is None
    assert seconds_between("07-22 04:05:08", "07-22 04:07:42") == 154.0
    assert seconds_between("12-31 23:59:50", "01-01 00:00:10") == 20.0  # across the new year
    assert seconds_between("05-27 11:41:21", "05-12 11:36:00") is None  # pasted from another run: unknown


def test_a_phase_without_a_stamp_takes_the_previous_or_the_next_one() -> None:
    tracker = PhaseTracker()
    assert tracker.enter("start", 1, "") == (True, 0.0)
    assert tracker.enter("config", 2, "") == (True, None)  # no stamp yet
    tracker.note_stamp("07-22 04:05:08")
    tracker.note_stamp("07-22 04:05:30")
    assert tracker.enter("ready", 9, "") == (True, 22.0)  # a uvicorn line: the last stamp seen
    assert tracker.enter("config", 12, "07-22 04:06:00") == (False, None)  # entered once
    assert [(p.name, p.line, p.elapsed_s, p.duration_s) for p in tracker.phases()] == [
        ("start", 1, 0.0, 0.0), ("config", 2, 0.0, 22.0), ("ready", 9, 22.0, None),
    ]


def test_a_log_without_stamps_has_phases_without_times() -> None:
    reader = LogFacts()
    reader.feed("Loading safetensors checkpoint shards: 100% Completed | 1/1 [00:00<00:00, 3.3it/s]\n"
                "INFO:     Application startup complete.\n")
    assert reader.phases() == [
        Phase("start", "process start", 1, 0.0, None),
        Phase("weights_loading", "weights loading", 1, None, None),
        Phase("ready", "ready", 2, None, None),
    ]


def test_labels_cover_every_phase_in_order() -> None:
    assert PHASE_ORDER == ("start", "config", "weights_loading", "weights_loaded", "compile", "graph_capture",
                           "kv_cache", "api_listening", "ready")
    assert set(PHASE_LABELS) == set(PHASE_ORDER)
    assert Phase("compile", "compile", 3, 1.0, 2.0).to_json() == {
        "phase": "compile", "label": "compile", "line": 3, "elapsed_s": 1.0, "duration_s": 2.0,
    }
