"""Failure kinds and codes per line, root-cause ranking, and the one-sentence hints."""

from __future__ import annotations

import pytest

from tui.server.logfacts import KINDS, Diagnosis, hint_for, root_cause
from tui.server.logfacts.errors import classify
from tui.server.logfacts.hints import CODE_HINTS, KIND_HINTS


@pytest.mark.parametrize(
    ("message", "found"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.50 GiB.", ("oom", None)),
        ("RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 60.96 GiB total capacity)",
         ("oom", None)),
        ("ValueError: To serve at least one request with the model's max seq len (262144), (18.35 GiB KV cache is "
         "needed", ("kv_cache_insufficient", None)),
        ("ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
         ("kv_cache_insufficient", None)),
        ("Error in inspecting model architecture 'DeepseekV2ForCausalLM'", ("unsupported_architecture", None)),
        ("  Value error, Model architectures ['FooForCausalLM'] are not supported for now. Supported architectures: "
         "dict_keys(['Qwen2ForCausalLM'])", ("unsupported_architecture", None)),
        ("ValueError: fp8 quantization is currently not supported in npu.", ("unsupported_quantization", None)),
        ("Failed to load the model config. If the model is a custom model not yet available in the HuggingFace "
         "transformers library, consider setting `trust_remote_code=True` in LLM", ("trust_remote_code", None)),
        ("OSError: [Errno 98] Address already in use", ("port_in_use", None)),
        ("[Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use",
         ("port_in_use", None)),
        ("RuntimeError: create_config:build/CMakeFiles/torch_npu.dir/compiler_depend.ts:102 HCCL function error: "
         "hcclCommInitRootInfoConfig(numRanks, &rootInfo, rank, config, &(comm->hcclComm_)), error code is 15",
         ("hccl_error", "15")),
        ("EI0006: [PID: 1] Getting socket times out.", ("hccl_error", "EI0006")),
        ("RuntimeError: Initialize:build/CMakeFiles/torch_npu.dir/compiler_depend.ts:146 NPU function error: "
         "c10_npu::SetDevice(device_id_), error code is 107001", ("ascend_error", "107001")),
        ("[ERROR] 2025-08-05-11:23:25 (PID:519998, Device:0, RankID:-1) ERR00100 PTA call acl api failed",
         ("ascend_error", "ERR00100")),
        ("[PID: 36842] 2026-07-25-16:54:01.555.555 AclNN_Runtime_Error(EZ9903): Assert failed.",
         ("ascend_error", "EZ9903")),
        ("EL0006: [PID: 519998] 2025-08-05-11:23:25.691.093 The resources are insufficient.",
         ("ascend_error", "EL0006")),
        ("RuntimeError: EZ9999: Inner Error!", ("ascend_error", "EZ9999")),
        ("ACLgraph sizes capture fail: RuntimeError", ("ascend_error", None)),
        ("Worker proc VllmWorker-3 died unexpectedly, shutting down executor.", ("worker_died", None)),
        ("WorkerProc hit an exception.", ("worker_died", None)),
        ("Exception in worker VllmWorkerProcess while processing method init_device.", ("worker_died", None)),
        ("EngineCore encountered a fatal error.", ("engine_dead", None)),
        ("vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.", ("engine_dead", None)),
        ("Engine core proc EngineCore died unexpectedly, shutting down client.", ("engine_dead", None)),
        ("EngineCore failed to start.", ("engine_init_failed", None)),
        ("RuntimeError: Engine process failed to start. See stack trace for the root cause.",
         ("engine_init_failed", None)),
        ("subprocess.CalledProcessError: Command '['python']' returned non-zero exit status 1.", ("traceback", None)),
        ("RuntimeError: Triton Error [CUDA]: device kernel image is invalid", ("traceback", None)),
    ],
)
def test_classify(message: str, found: tuple[str, str | None]) -> None:
    assert classify(message) == found


@pytest.mark.parametrize(
    "message",
    [
        '  File "/v/core.py", line 1102, in run_engine_core',
        '    raise RuntimeError("Engine core initialization failed. "',
        "        TraceBack (most recent call last):",
        "Traceback (most recent call last):",
        "Error retrieving safetensors: 'gpt-oss-120b' is not a safetensors repo.",
        "Error with model object='error' message='The model does not exist.' type='NotFoundError' code=404",
        "Cannot use FA version 2 is not supported due to FA2 is only supported on devices with compute capability >= 8",
        "[Error]: Failed to apply for memory.",
        "/usr/lib/python3.10/tempfile.py:869: ResourceWarning: Implicitly cleaning up",
        "sys:1: DeprecationWarning: builtin type swigvarlink has no __module__ attribute",
        "[rank0]:[W610 06:17:01.666 ProcessGroupNCCL.cpp:1476] Warning: destroy_process_group() was not called",
        "",
    ],
)
def test_lines_that_are_not_failures(message: str) -> None:
    assert classify(message) is None


def diagnosis(kind: str, line: int, code: str | None = None) -> Diagnosis:
    return Diagnosis(kind, code, line, "text", hint_for(kind, code))


def test_root_cause_ranks_specific_kinds_first_then_earliest() -> None:
    cascade = [diagnosis("engine_init_failed", 3), diagnosis("traceback", 5), diagnosis("worker_died", 2),
               diagnosis("ascend_error", 9, "ERR99999"), diagnosis("ascend_error", 6, "107001"),
               diagnosis("engine_dead", 1)]
    cause = root_cause(cascade)
    assert cause is not None and (cause.code, cause.line) == ("107001", 6)
    assert root_cause([diagnosis("engine_dead", 4), diagnosis("worker_died", 7)]) == diagnosis("worker_died", 7)
    assert root_cause([]) is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_one_sentence(kind: str) -> None:
    hint = hint_for(kind)
    assert hint == KIND_HINTS[kind]
    assert hint.endswith(".") and hint.count(". ") == 0 and "\n" not in hint


@pytest.mark.parametrize("code", sorted(CODE_HINTS))
def test_every_known_code_has_one_sentence(code: str) -> None:
    hint = hint_for("ascend_error", code)
    assert hint == CODE_HINTS[code] and hint.endswith(".") and hint.count(". ") == 0


def test_hints_say_what_to_try() -> None:
    assert "ASCEND_RT_VISIBLE_DEVICES" in hint_for("ascend_error", "107001")
    assert "npu-smi info -m" in hint_for("ascend_error", "107001")
    assert "--port" in hint_for("port_in_use")
    for kind in ("oom", "kv_cache_insufficient"):
        assert "--max-model-len" in hint_for(kind) and "--gpu-memory-utilization" in hint_for(kind)
    assert "--trust-remote-code" in hint_for("trust_remote_code")
    assert "HCCL" in hint_for("hccl_error", "EI0006")
    assert hint_for("ascend_error", "EL0099") != hint_for("ascend_error")  # the EL family sentence


def test_kv_hint_names_the_length_that_fits() -> None:
    text = ("ValueError: To serve at least one request with the model's max seq len (262144), (18.35 GiB KV cache "
            "is needed, which is larger than the available KV cache memory (8.72 GiB). Based on the available "
            "memory, the estimated maximum model length is 121840. Try increasing `gpu_memory_utilization`")
    hint = hint_for("kv_cache_insufficient", None, text)
    assert "121,840" in hint and "262,144" in hint and "--max-model-len" in hint
