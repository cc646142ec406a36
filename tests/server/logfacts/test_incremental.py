"""Feeding a live server's output: partial lines held, tqdm frames, typed events, phases, wraps."""

from __future__ import annotations

from tests.server.logfacts.corpus import OWN_LOGS, read_log, shared_log
from tui.server.logfacts import (
    ErrorFound,
    FactChanged,
    LogEvent,
    LogFacts,
    PhaseEntered,
    Progress,
    Ready,
    RequestLogged,
    StatsUpdated,
    parse_log_text,
)

HEAD = "(EngineCore pid=7) INFO 07-22 04:06:17 "


def feed_all(reader: LogFacts, pieces: list[str]) -> list[LogEvent]:
    events: list[LogEvent] = []
    for piece in pieces:
        events += reader.feed(piece)
    return events


def test_a_partial_line_is_held_until_its_newline() -> None:
    reader = LogFacts()
    assert reader.feed(HEAD + "[model.py:1582] Using max model len 163") == ()
    assert reader.value("max_model_len") is None and reader.lines == 0
    events = reader.feed("84\r")
    assert events == () and reader.lines == 0
    events = reader.feed("\n")
    assert reader.lines == 1 and reader.value("max_model_len") == 16384
    assert FactChanged("max_model_len", 16384) in events


def test_close_reads_a_last_line_without_newline() -> None:
    reader = LogFacts()
    reader.feed("INFO:     Application startup complete.")
    assert reader.facts()["ready"] is False
    events = reader.close()
    assert reader.facts()["ready"] is True and Ready(1) in events


def test_feed_line_equals_feed() -> None:
    text = read_log(OWN_LOGS / "cuda-0.10-hard-wrapped.log")
    reader = LogFacts()
    for line in text.split("\n")[:-1]:
        reader.feed_line(line)
    assert reader.facts() == parse_log_text(text)


def test_tqdm_frames_report_weights_progress_before_the_line_ends() -> None:
    reader = LogFacts()
    reader.feed("(EngineCore pid=7) ")
    frames = [f"\rLoading safetensors checkpoint shards: {pct:3d}% Completed | {done}/4 [00:0{done}<00:00, 1.0it/s]"
              for pct, done in ((0, 0), (25, 1), (50, 2), (75, 3), (100, 4))]
    progress: list[LogEvent] = []
    for frame in frames:
        progress += reader.feed(frame)
    # each frame is reported once the next CR shows it is complete; the last one with the newline
    assert [event.pct for event in progress if isinstance(event, Progress)] == [0, 25, 50, 75]
    rest = reader.feed("\n")
    assert Progress("weights", 100, 4, 4) in rest
    assert [event.phase for event in progress + list(rest) if isinstance(event, PhaseEntered)] == [
        "start", "weights_loading",
    ]
    assert reader.lines == 1


def test_events_of_a_real_ready_log_in_order() -> None:
    text = read_log(shared_log("001"))
    reader = LogFacts()
    events = feed_all(reader, [text[i:i + 997] for i in range(0, len(text), 997)])
    events += reader.close()
    phases = [event for event in events if isinstance(event, PhaseEntered)]
    assert [phase.phase for phase in phases] == [
        "start", "config", "weights_loading", "weights_loaded", "compile", "kv_cache", "graph_capture",
        "api_listening", "ready",
    ]
    assert [phase.at_line for phase in phases] == sorted(phase.at_line for phase in phases)
    assert phases[1].elapsed_s == 22.0  # 04:05:08 → 04:05:30
    weights = [event.pct for event in events if isinstance(event, Progress) and event.kind == "weights"]
    assert weights == [0, 25, 50, 75, 100]
    assert sum(isinstance(event, Ready) for event in events) == 1
    statuses = [event.status for event in events if isinstance(event, RequestLogged)]
    assert len(statuses) == 205 and statuses[:2] == [400, 400]
    assert sum(isinstance(event, StatsUpdated) for event in events) == 25
    changed = {event.name: event.value for event in events if isinstance(event, FactChanged)}
    assert changed["architecture"] == "Qwen3VLForConditionalGeneration" and changed["compilation"] == "PIECEWISE"
    assert not any(isinstance(event, ErrorFound) for event in events)


def test_phase_durations_from_timestamps() -> None:
    reader = LogFacts(collect_events=False)
    reader.feed(read_log(shared_log("001")))
    reader.close()
    durations = {phase.name: phase.duration_s for phase in reader.phases()}
    assert durations["weights_loading"] == 5.0  # 04:06:12 → 04:06:17
    assert durations["compile"] == 48.0  # 04:06:30 → 04:07:18
    assert durations["ready"] is None


def test_an_error_event_carries_its_diagnosis() -> None:
    reader = LogFacts()
    events = reader.feed(
        HEAD + "[core.py:1140] EngineCore failed to start.\n"
        + HEAD.replace("INFO", "ERROR") + "[core.py:1140] RuntimeError: Initialize:build/CMakeFiles/torch_npu.dir/"
        "compiler_depend.ts:146 NPU function error: c10_npu::SetDevice(device_id_), error code is 107001\n"
    )
    found = [event.diagnosis for event in events if isinstance(event, ErrorFound)]
    assert [(d.kind, d.code, d.line) for d in found] == [("ascend_error", "107001", 2)]  # line 1 is INFO
    assert "ASCEND_RT_VISIBLE_DEVICES" in found[0].hint and "npu-smi info -m" in found[0].hint


def test_a_traceback_cut_before_its_exception_gives_nothing() -> None:
    text = (
        "(EngineCore_DP0 pid=9) Traceback (most recent call last):\n"
        '(EngineCore_DP0 pid=9)   File "/v/core.py", line 1102, in run_engine_core\n'
        "(EngineCore_DP0 pid=9)     raise RuntimeError(\"Engine core initialization failed. \"\n"
        "(EngineCore_DP0 pid=9)                     ^^^^^^^^^^^^^^^^^\n"
    )
    assert parse_log_text(text)["errors"] == []


def test_warning_records_never_give_errors() -> None:
    text = "WARNING 07-22 04:05:30 [serving.py:1] RuntimeError: Chat template warmup failed\n"
    assert parse_log_text(text)["errors"] == []


def test_a_glued_record_after_a_tqdm_frame_is_read() -> None:
    text = ("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE):  99%|▏| 66/67 [00:03<00:00, 20.10it/s]"
            "(VllmWorker TP1 pid=1431) INFO 09-03 00:41:00 [gpu_model_runner.py:2708] Graph capturing finished in 4 "
            "secs, took 0.65 GiB\n"
            "(EngineCore_0 pid=1358) INFO 09-03 00:41:00 [core.py:214] init engine (profile, create kv cache, "
            "warmup model) took 86.34 seconds\n")
    facts = parse_log_text(text)
    assert facts["compilation"] == "PIECEWISE" and facts["engine_init_s"] == 86.34


def test_a_later_override_wins_over_the_config_dump() -> None:
    text = (
        "INFO 05-14 08:25:30 [core.py:114] Initializing a V1 LLM engine (v0.27.1) with config: model='m', "
        "compilation_config={'mode': <CompilationMode.VLLM_COMPILE: 3>, 'cudagraph_mode': "
        "<CUDAGraphMode.FULL_AND_PIECEWISE: (2, 1)>}\n"
        "WARNING 05-14 08:25:39 [compilation.py:1390] CUDAGraphMode.FULL_AND_PIECEWISE is not supported with "
        "spec-decode for attention backend FlashInferBackend; setting cudagraph_mode=PIECEWISE\n"
    )
    assert parse_log_text(text)["compilation"] == "PIECEWISE"


def test_stats_are_the_last_periodic_line_and_requests_count_statuses() -> None:
    line = ("(APIServer pid=1) INFO 07-22 04:12:22 [loggers.py:259] Engine 000: Avg prompt throughput: {p} tokens/s, "
            "Avg generation throughput: 17.5 tokens/s, Running: 3 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.4%, "
            "Prefix cache hit rate: 0.0%\n")
    access = '(APIServer pid=1) INFO:     127.0.0.1:5 - "POST /v1/chat/completions HTTP/1.1" {s}\n'
    text = line.format(p="1.0") + access.format(s="200 OK") + access.format(s="400 Bad Request") + line.format(p="60.0")
    facts = parse_log_text(text)
    assert facts["stats"] == {"prompt_tps": 60.0, "gen_tps": 17.5, "running": 3, "waiting": 0,
                              "kv_usage_pct": 0.4, "prefix_hit_pct": 0.0}
    assert facts["requests"] == {"total": 2, "by_status": {"200": 1, "400": 1}}


def test_an_empty_log_gives_every_key_with_nothing_stated() -> None:
    facts = parse_log_text("")
    assert facts["ready"] is False and facts["requests"] == {"total": 0, "by_status": {}}
    assert facts["errors"] == [] and facts["root_cause"] is None and facts["stats"] is None
    assert all(value is None for key, value in facts.items()
               if key not in ("ready", "requests", "errors"))


def test_frames_fed_one_character_at_a_time_still_report_progress() -> None:
    reader = LogFacts()
    line = "".join(f"\rLoading safetensors checkpoint shards: {pct:3d}% Completed | {done}/2 [00:00<00:00, 1.0it/s]"
                   for pct, done in ((0, 0), (50, 1), (100, 2)))
    events: list[LogEvent] = []
    for char in line:
        events += reader.feed(char)
    assert [event.pct for event in events if isinstance(event, Progress)] == [0, 50]
    events += reader.feed("\n")
    assert [event.pct for event in events if isinstance(event, Progress)] == [0, 50, 100]


def test_an_echoed_command_is_the_last_fallback() -> None:
    text = ("Starting command: ASCEND_RT_VISIBLE_DEVICES=0 vllm serve org/model --port 7100 --tensor-parallel-size 4 "
            "--max-model-len 8192 --enforce-eager\n"
            "usage: vllm serve [model_tag] [options]\n")
    facts = parse_log_text(text)
    assert (facts["model"], facts["tensor_parallel_size"], facts["max_model_len"]) == ("org/model", 4, 8192)
    assert facts["compilation"] == "eager"


def test_ray_dedup_suffix_is_not_part_of_an_error_text() -> None:
    text = ("\x1b[1;36m(EngineCore_0 pid=1159)\x1b[0;0m \x1b[36m(RayWorkerWrapper pid=345, ip=10.42.11.243)\x1b[0m "
            "ERROR 09-10 23:49:01 [worker_base.py:620] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate "
            "2.00 GiB.\x1b[32m [repeated 3x across cluster] (Ray deduplicates logs by default.)\x1b[0m\n")
    cause = parse_log_text(text)["root_cause"]
    assert isinstance(cause, dict)
    assert cause["text"] == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."


def test_a_pydantic_value_error_chooses_the_hint_of_its_validation_error() -> None:
    text = (
        "(APIServer pid=5) pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n"
        "(APIServer pid=5)   Value error, User-specified max_model_len (65536) is greater than the derived "
        "max_model_len (max_position_embeddings=32768 or model_max_length=None in model's config.json). "
        "[type=value_error, input_value=ArgsKwargs((), {'model': ...}), input_type=ArgsKwargs]\n"
    )
    facts = parse_log_text(text)
    cause = facts["root_cause"]
    assert isinstance(cause, dict) and cause["kind"] == "max_model_len" and cause["line"] == 2
    assert cause["detail"] == {"requested": 65536, "supported": 32768, "source": "max_position_embeddings"}
    assert "--max-model-len" in str(cause["hint"]) and "32768" in str(cause["hint"])
    errors = facts["errors"]
    assert isinstance(errors, list) and errors[0]["kind"] == "traceback" and errors[0]["line"] == 1
    assert str(errors[0]["text"]).startswith("pydantic_core._pydantic_core.ValidationError")
    # The ValidationError's own message is the ValueError its validator raised, without pydantic's suffix.
    assert str(errors[0]["message"]).startswith("ValueError: User-specified max_model_len (65536)")
    assert "[type=value_error" not in str(errors[0]["message"])


def test_a_pydantic_value_error_of_no_specific_kind_chooses_the_hint_of_its_validation_error() -> None:
    text = (
        "(APIServer pid=5) pydantic_core._pydantic_core.ValidationError: 1 validation error for VllmConfig\n"
        "(APIServer pid=5)   Value error, Cannot re-initialize CUDA in forked subprocess. To use CUDA with "
        "multiprocessing, you must use the 'spawn' start method [type=value_error, input_value=1]\n"
    )
    cause = parse_log_text(text)["root_cause"]
    assert isinstance(cause, dict) and cause["kind"] == "traceback" and cause["line"] == 1
    assert "VLLM_WORKER_MULTIPROC_METHOD=spawn" in str(cause["hint"])
    assert cause["message"] == ("ValueError: Cannot re-initialize CUDA in forked subprocess. To use CUDA with "
                                "multiprocessing, you must use the 'spawn' start method")
