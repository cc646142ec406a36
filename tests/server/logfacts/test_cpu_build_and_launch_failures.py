"""The second wave's kinds and facts, from real vLLM 0.32.0 CPU-build logs (tests/fixtures/vllm-logs/1xx_*)
and from lines written in each rule's exact format where a real log of the case is not at hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.server.logfacts.corpus import OWN_LOGS, read_log
from tui.server import logfacts
from tui.server.logfacts import KINDS, Diagnosis, ErrorFound, LogFacts, parse_log_text
from tui.server.logfacts.hints import KIND_HINTS
from tui.server.logfacts.particulars import MESSAGE_LIMIT, exception_message
from tui.server.logfacts.vllm_flags import closest_flag


def facts_of(prefix: str) -> dict[str, object]:
    return parse_log_text(read_log(next(OWN_LOGS.glob(f"{prefix}_*.log"))))


def root(facts: dict[str, object]) -> dict[str, object]:
    cause = facts["root_cause"]
    assert isinstance(cause, dict), facts["errors"]
    return cause


def kinds(facts: dict[str, object]) -> list[object]:
    errors = facts["errors"]
    assert isinstance(errors, list)
    return [error["kind"] for error in errors]


def test_the_new_kinds_are_in_the_contract_list() -> None:
    for kind in ("model_not_found", "max_model_len", "bad_argument", "no_platform"):
        assert kind in KINDS


def test_cpu_ready_log_gives_platform_kv_cache_and_concurrency() -> None:
    facts = facts_of("100")
    assert facts["platform"] == "cpu"
    assert facts["kv_cache_gib"] == 1.0
    assert facts["kv_cache_tokens"] == 2_097_152
    assert facts["max_concurrency"] == 4096.0
    assert facts["max_model_len"] == 512 and facts["ready"] is True
    stats = facts["stats"]
    assert isinstance(stats, dict) and stats["gen_tps"] == 5.0 and stats["kv_usage_pct"] == 0.0


def test_errors_after_the_operators_stop_are_its_echo_not_a_failure() -> None:
    facts = facts_of("100")
    text = read_log(next(OWN_LOGS.glob("100_*.log")))
    assert "EngineDeadError" in text and "shutdown triggered" in text
    assert facts["errors"] == [] and facts["root_cause"] is None
    # The same records without the shutdown line before them are a failure.
    unstopped = "\n".join(line for line in text.splitlines() if "shutdown triggered" not in line)
    assert "engine_dead" in kinds(parse_log_text(unstopped))


@pytest.mark.parametrize(("line", "gib"), [
    ("(Worker pid=7) INFO 12-07 11:05:15 [cpu_worker.py:260] Explicitly set (1.0/23.54) GiB for KV cache on node 0.",
     1.0),
    ("(Worker pid=7) INFO 12-07 11:05:15 [cpu_worker.py:260] Auto set (12.5/23.54) GiB for KV cache on node 0, with "
     "14.0 GiB requested memory for the worker. 1.5 GiB memory was consumed by non-kv usages.", 12.5),
])
def test_the_cpu_workers_kv_cache_line_gives_its_gib(line: str, gib: float) -> None:
    assert parse_log_text(line + "\n")["kv_cache_gib"] == gib


def test_a_gpu_kv_cache_line_of_0_32_gives_tokens_and_concurrency_at_once() -> None:
    line = ("(EngineCore pid=9) INFO 12-07 11:05:15 [kv_cache_utils.py:2327] GPU + host KV cache size: 450,192 tokens, "
            "Maximum concurrency for 32,768 tokens per request: 13.74x\n")
    facts = parse_log_text(line)
    assert (facts["kv_cache_tokens"], facts["max_concurrency"], facts["max_model_len"]) == (450_192, 13.74, 32_768)


def test_port_in_use_of_the_cpu_build() -> None:
    cause = root(facts_of("101"))
    assert cause["kind"] == "port_in_use" and cause["message"] == "OSError: [Errno 98] Address already in use"


def test_a_missing_model_folder_is_model_not_found_missing_path() -> None:
    cause = root(facts_of("102"))
    assert cause["kind"] == "model_not_found"
    assert cause["detail"] == {"reason": "missing_path", "model": "/tmp/lf/does-not-exist"}
    assert str(cause["message"]).startswith("HFValidationError: Repo id must be in the form")
    assert "/tmp/lf/does-not-exist does not exist" in str(cause["hint"]) and "[model]" in str(cause["hint"])


def test_an_uncached_hub_id_offline_is_model_not_found_unknown_hub_id() -> None:
    cause = root(facts_of("103"))
    assert cause["kind"] == "model_not_found"
    assert cause["detail"] == {"reason": "unknown_hub_id", "model": "nobody-xyz/no-such-model-123", "offline": True}
    assert str(cause["message"]).startswith("LocalEntryNotFoundError: Cannot find an appropriate cached snapshot")
    assert "HF_HUB_OFFLINE" in str(cause["hint"]) and "download it first" in str(cause["hint"])


@pytest.mark.parametrize(("line", "reason", "model"), [
    ("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: Root=1-x)\n", "unknown_hub_id",
     "Qwen/Qwen9-Nope"),
    ("ValueError: Invalid repository ID or local directory specified: './models/qwen'.", "missing_path",
     "./models/qwen"),
    ("OSError: Invalid repository ID or local directory specified: 'Qwen/Qwen9-Nope'.", "unknown_hub_id",
     "Qwen/Qwen9-Nope"),
    # ModelScope (VLLM_USE_MODELSCOPE=True), as vllm-ascend users see it (vllm-ascend issue #829).
    ("modelscope.hub.errors.NotExistError: The model: Qwen/Qwen9-VL has no revision: main !", "unknown_hub_id",
     "Qwen/Qwen9-VL"),
])
def test_model_not_found_says_which(line: str, reason: str, model: str) -> None:
    text = ("(APIServer pid=1) INFO 12-07 11:06:20 [api_utils.py:286] non-default args: {'model_tag': "
            "'Qwen/Qwen9-Nope', 'model': 'Qwen/Qwen9-Nope'}\nTraceback (most recent call last):\n" + line + "\n")
    cause = root(parse_log_text(text))
    assert cause["kind"] == "model_not_found"
    detail = cause["detail"]
    assert isinstance(detail, dict) and (detail["reason"], detail["model"]) == (reason, model)


def test_a_folder_without_weights_is_model_not_found_no_weights_before_the_cascade() -> None:
    facts = facts_of("105")
    assert kinds(facts) == ["worker_died", "model_not_found", "engine_init_failed"]
    cause = root(facts)
    assert cause["kind"] == "model_not_found" and cause["line"] == 94
    assert cause["detail"] == {"reason": "no_weights", "model": "/tmp/lf/tiny-noweights"}
    assert cause["message"] == "RuntimeError: Cannot find any model weights with `/tmp/lf/tiny-noweights`"
    assert "safetensors" in str(cause["hint"])


def test_an_unsupported_architecture_carries_the_validators_message() -> None:
    facts = facts_of("104")
    assert kinds(facts) == ["traceback", "unsupported_architecture"]
    cause = root(facts)
    assert cause["kind"] == "unsupported_architecture" and cause["line"] == 51
    assert str(cause["message"]).startswith("ValueError: Model architectures ['FooBarForCausalLM'] are not supported")
    assert len(str(cause["message"])) <= MESSAGE_LIMIT


def test_max_model_len_above_the_model_gives_both_numbers() -> None:
    facts = facts_of("106")
    cause = root(facts)
    assert cause["kind"] == "max_model_len" and "traceback" in kinds(facts)
    assert cause["detail"] == {"requested": 4096, "supported": 1024, "source": "max_position_embeddings"}
    assert "4096" in str(cause["hint"]) and "at most 1024" in str(cause["hint"])
    assert str(cause["message"]).startswith("ValueError: User-specified max_model_len (4096) is greater than")


def test_a_misspelled_flag_is_bad_argument_with_the_flag_it_probably_meant() -> None:
    facts = facts_of("107")
    cause = root(facts)
    assert cause["kind"] == "bad_argument" and cause["line"] == 4
    assert cause["detail"] == {"flag": "--enforce-eagre", "problem": "unrecognized", "suggestion": "--enforce-eager"}
    assert cause["message"] == "vllm: error: unrecognized arguments: --enforce-eagre"
    assert "did you mean --enforce-eager?" in str(cause["hint"])


def test_an_invalid_value_is_bad_argument_naming_the_flag() -> None:
    cause = root(facts_of("111"))
    assert cause["kind"] == "bad_argument"
    detail = cause["detail"]
    assert isinstance(detail, dict) and detail["flag"] == "--dtype" and detail["suggestion"] is None
    assert "--dtype" in str(cause["hint"]) and "invalid choice: 'foo'" in str(cause["hint"])


@pytest.mark.parametrize(("line", "flag", "suggestion"), [
    ("api_server.py: error: unrecognized arguments: --max-modle-len 4096", "--max-modle-len", "--max-model-len"),
    ("vllm: error: unrecognized arguments: --tensor_paralel_size=2", "--tensor_paralel_size", "--tensor-parallel-size"),
    ("vllm: error: unrecognized arguments: --frobnicate", "--frobnicate", None),
    ("vllm serve: error: argument --dtype: invalid choice: 'bfloat' (choose from 'auto', 'bfloat16', 'half')",
     "--dtype", "bfloat16"),
    ("vllm serve: error: argument --max-model-len: invalid human_readable_int value: 'lots'", "--max-model-len", None),
    ("vllm serve: error: ambiguous option: --max could match --max-model-len, --max-num-seqs", "--max", None),
])
def test_bad_argument_names_the_flag_and_a_close_one(line: str, flag: str, suggestion: str | None) -> None:
    cause = root(parse_log_text("usage: vllm serve [model_tag] [options]\n" + line + "\n"))
    assert cause["kind"] == "bad_argument"
    detail = cause["detail"]
    assert isinstance(detail, dict) and detail["flag"] == flag and detail["suggestion"] == suggestion
    assert flag in str(cause["hint"])
    if suggestion:
        assert suggestion in str(cause["hint"])


def test_closest_flag_knows_vllms_flags_and_their_negations() -> None:
    assert closest_flag("--enforce-eagre") == "--enforce-eager"
    assert closest_flag("--gpu-memory-utilisation") == "--gpu-memory-utilization"
    assert closest_flag("--enforce-eager") is None and closest_flag("--no-enforce-eager") is None
    assert closest_flag("--completely-unrelated") is None


def test_quantization_that_fails_in_quantization_code_is_unsupported_quantization() -> None:
    facts = facts_of("108")
    cause = root(facts)
    assert cause["kind"] == "unsupported_quantization" and cause["line"] == 129
    assert cause["detail"] == {"quantization": "fp8"}
    assert str(cause["message"]).startswith("RuntimeError: _C::static_scaled_fp8_quant() expected at most 0")
    assert "remove --quantization fp8" in str(cause["hint"])
    assert "traceback" not in kinds(facts)[:2]


def test_quantization_named_by_the_validator_is_unsupported_quantization() -> None:
    cause = root(facts_of("109"))
    assert cause["kind"] == "unsupported_quantization" and cause["detail"] == {"quantization": "gptq"}
    assert cause["message"] == "ValueError: Cannot find the config file for gptq"
    assert "--quantization gptq" in str(cause["hint"])


_QUANT_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/venv/lib/python3.11/site-packages/vllm/model_executor/layers/quantization/awq.py", line 9, in apply\n'
    "    out = ops.awq_gemm(x, qweight)\n"
    "RuntimeError: expected scalar type BFloat16 but found Float\n"
)


@pytest.mark.parametrize("setting", [
    "(APIServer pid=1) INFO 12-07 11:09:18 [api_utils.py:286] non-default args: {'model': '/m', 'quantization': 'awq'}",
    "$ vllm serve /m --quantization awq --max-model-len 4096",
    "(EngineCore pid=2) INFO 12-07 11:09:18 [core.py:133] Initializing a V1 LLM engine (v0.32.0) with config: "
    "model='/m', dtype=torch.bfloat16, quantization=awq, enforce_eager=False",
])
def test_a_traceback_through_quantization_code_counts_only_with_quantization_set(setting: str) -> None:
    cause = root(parse_log_text(setting + "\n" + _QUANT_TRACEBACK))
    assert cause["kind"] == "unsupported_quantization" and cause["detail"] == {"quantization": "awq"}
    unset = root(parse_log_text(_QUANT_TRACEBACK))
    assert unset["kind"] == "traceback" and unset["detail"] is None


def test_a_later_traceback_without_quantization_frames_stays_a_traceback() -> None:
    text = ("$ vllm serve /m --quantization awq\n" + _QUANT_TRACEBACK.replace("RuntimeError: expected", "KeyError: x")
            .replace("quantization/awq.py", "models/qwen2.py"))
    assert root(parse_log_text(text))["kind"] == "traceback"


def test_no_platform_from_the_cpu_build_without_vllm_target_device() -> None:
    cause = root(facts_of("110"))
    assert cause["kind"] == "no_platform" and cause["line"] == 30
    assert str(cause["message"]).startswith("RuntimeError: Failed to infer device type")
    hint = str(cause["hint"])
    assert "VLLM_TARGET_DEVICE=cpu" in hint and "vllm-ascend" in hint and "set_env.sh" in hint


def test_cann_libraries_missing_is_no_platform() -> None:
    line = "ImportError: libascendcl.so: cannot open shared object file: No such file or directory\n"
    assert root(parse_log_text(line))["kind"] == "no_platform"


@pytest.mark.parametrize(("text", "message"), [
    ("huggingface_hub.errors.HFValidationError: Repo id must be …", "HFValidationError: Repo id must be …"),
    ("vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.",
     "EngineDeadError: EngineCore encountered an issue."),
    ("  Value error, Cannot find the config file for gptq [type=value_error, input_value=ArgsKwargs((), {})]",
     "ValueError: Cannot find the config file for gptq"),
    ("OSError: [Errno 98] Address already in use", "OSError: [Errno 98] Address already in use"),
    ("EngineCore failed to start.", "EngineCore failed to start."),
])
def test_exception_message_is_the_statement_without_the_module_path(text: str, message: str) -> None:
    assert exception_message(text) == message


def test_a_long_message_is_cut() -> None:
    message = exception_message("ValueError: " + "x" * 5000)
    assert len(message) == MESSAGE_LIMIT and message.endswith("…")


def test_every_error_entry_has_message_and_detail_in_contract_order() -> None:
    for log in sorted(OWN_LOGS.glob("*.log")):
        facts = parse_log_text(read_log(log))
        errors = facts["errors"]
        assert isinstance(errors, list)
        for error in errors:
            assert list(error) == ["kind", "code", "line", "text", "message", "detail", "hint"], log.name
            assert isinstance(error["message"], str) and error["message"], log.name
        json.dumps(facts)


def test_a_diagnosis_built_without_the_new_fields_still_serialises() -> None:
    diagnosis = Diagnosis("oom", None, 3, "text", "hint")
    assert diagnosis.to_json() == {"kind": "oom", "code": None, "line": 3, "text": "text", "message": None,
                                   "detail": None, "hint": "hint"}


def test_the_live_reader_reports_the_new_kinds_as_they_arrive() -> None:
    reader = LogFacts()
    events = reader.feed("usage: vllm [-h]\nvllm: error: unrecognized arguments: --enforce-eagre\n")
    found = [event.diagnosis for event in events if isinstance(event, ErrorFound)]
    assert [(d.kind, d.message) for d in found] == [
        ("bad_argument", "vllm: error: unrecognized arguments: --enforce-eagre")]


def test_vllm_mindspore_records_are_read_like_vllms() -> None:
    text = (
        "INFO 07-01 10:00:00 vllm-mindspore[utils.py:230] Run with Mindformers backend!\n"
        "INFO 07-01 10:00:01 vllm-mindspore[config.py:88] Using max model len 8192\n"
        "INFO 07-01 10:00:02 vllm-mindspore[kv_cache_utils.py:716] GPU KV cache size: 95,232 tokens\n"
        "ERROR 07-01 10:00:03 vllm-mindspore[core.py:390] EngineCore failed to start.\n"
        "ERROR 07-01 10:00:03 vllm-mindspore[core.py:390] ValueError: User-specified max_model_len (65536) is "
        "greater than the derived max_model_len (max_position_embeddings=32768 or model_max_length=None in model's "
        "config.json).\n"
    )
    facts = parse_log_text(text)
    assert facts["max_model_len"] == 8192 and facts["kv_cache_tokens"] == 95_232
    assert kinds(facts) == ["engine_init_failed", "max_model_len"]
    assert root(facts)["detail"] == {"requested": 65536, "supported": 32768, "source": "max_position_embeddings"}


PACKAGE = Path(logfacts.__file__).parent


def test_the_rules_the_modules_cite_are_in_the_repository() -> None:
    cited = set()
    for module in PACKAGE.glob("*.py"):
        cited |= set(re.findall(r"\b([A-Z][A-Z_]+\.md)\b", module.read_text(encoding="utf-8")))
    assert cited == {"RULES.md"}, cited
    rules = (PACKAGE / "RULES.md").read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in rules, kind
        assert kind in KIND_HINTS, kind


def test_the_consoles_diagnosis_widget_shows_the_exceptions_own_message() -> None:
    from widgets.server_facts import diagnosis_text

    facts = LogFacts(collect_events=False)
    facts.feed(read_log(next(OWN_LOGS.glob("106_*.log"))))
    facts.close()
    root_cause = facts.root_cause
    assert root_cause is not None and root_cause.message is not None
    shown = diagnosis_text(root_cause, len(facts.errors) - 1).plain
    assert "Root cause: max_model_len" in shown
    assert "ValueError: User-specified max_model_len (4096) is greater than" in shown
    assert "lower --max-model-len to at most 1024" in shown
    assert "[type=value_error" not in shown
