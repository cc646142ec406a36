"""The failure texts of a vLLM-Ascend 0.18 start-up, worded as real logs word them.

Each builder returns plain text (lines joined by newlines, no process prefix);
the caller prints it through `VllmLog` as one ERROR record or as raw stderr,
exactly as vLLM does. The wording comes from real logs: the torch_npu `107001`
SetDevice block (with its ERR00100 and CANN EE1001 lines), `EngineCore failed to
start.`, the API server's `Engine core initialization failed` traceback (fixture
004), the port-in-use traceback of `create_server_socket`, the pydantic
`max_model_len` rejection and the KV-cache-too-small ValueError.
"""

from __future__ import annotations

import time

from tui.sim.settings import wall_time

PYLIB = "/usr/local/python3.11.14/lib/python3.11"
SITE = f"{PYLIB}/site-packages"
ASCEND = "/vllm-workspace/vllm-ascend"


def cann_time(now: float | None = None) -> tuple[str, str]:
    """CANN's two timestamp styles: `2025-08-06-16:15:27` and `2025-08-06-16:15:27.377.593`."""
    moment = wall_time() if now is None else now
    base = time.strftime("%Y-%m-%d-%H:%M:%S", time.localtime(moment))
    micros = int((moment % 1) * 1_000_000)
    return base, f"{base}.{micros // 1000:03d}.{micros % 1000:03d}"


def set_device_error(pid: int, device_error: str, device: int = 0) -> str:
    """The torch_npu exception text when the runtime cannot open the chip (error code 107001)."""
    short, precise = cann_time()
    return "\n".join(
        [
            "RuntimeError: Initialize:build/CMakeFiles/torch_npu.dir/compiler_depend.ts:146 NPU function "
            "error: c10_npu::SetDevice(device_id_), error code is 107001",
            f"[ERROR] {short} (PID:{pid}, Device:{device}, RankID:-1) ERR00100 PTA call acl api failed",
            "[Error]: Invalid device ID.",
            "        Check whether the device ID is valid.",
            f"EE1001: [PID: {pid}] {precise} The argument is invalid.Reason: {device_error}",
            "        Solution: 1.Check the input parameter range of the function. "
            "2.Check the function invocation relationship.",
            "        TraceBack (most recent call last):",
            "        rtSetDevice execute failed, reason=[device id error]"
            "[FUNC:FuncErrorReason][FILE:error_message_manage.cc][LINE:53]",
            f"        open device {device} failed, runtime result = 107001."
            "[FUNC:ReportCallError][FILE:log_inner.cpp][LINE:161]",
        ]
    )


def _engine_init_frames() -> list[str]:
    return [
        "Traceback (most recent call last):",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 1114, in run_engine_core',
        "    engine_core = EngineCoreProc(*args, engine_index=dp_rank, **kwargs)",
        "                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 880, in __init__',
        "    super().__init__(",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 118, in __init__',
        "    self.model_executor = executor_class(vllm_config)",
        "                          ^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{SITE}/vllm/v1/executor/abstract.py", line 101, in __init__',
        "    self._init_executor()",
        f'  File "{SITE}/vllm/v1/executor/uniproc_executor.py", line 48, in _init_executor',
        "    self.driver_worker.init_device()",
        f'  File "{SITE}/vllm/v1/worker/worker_base.py", line 326, in init_device',
        "    self.worker.init_device()  # type: ignore",
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{ASCEND}/vllm_ascend/worker/worker.py", line 244, in init_device',
        "    self.device = self._init_device()",
        "                  ^^^^^^^^^^^^^^^^^^^",
        f'  File "{ASCEND}/vllm_ascend/worker/worker.py", line 229, in _init_device',
        "    NPUPlatform.set_device(device)",
        f'  File "{ASCEND}/vllm_ascend/platform.py", line 143, in set_device',
        "    torch.npu.set_device(device)",
        f'  File "{SITE}/torch_npu/npu/utils.py", line 80, in set_device',
        "    torch_npu._C._npu_setDevice(device_id)",
    ]


def _kv_frames() -> list[str]:
    return [
        "Traceback (most recent call last):",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 1114, in run_engine_core',
        "    engine_core = EngineCoreProc(*args, engine_index=dp_rank, **kwargs)",
        "                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 880, in __init__',
        "    super().__init__(",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 128, in __init__',
        "    kv_cache_config = self._initialize_kv_caches(vllm_config)",
        "                      ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 258, in _initialize_kv_caches',
        "    kv_cache_configs = get_kv_cache_configs(vllm_config, kv_cache_specs, available_gpu_memory)",
        "                       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        f'  File "{SITE}/vllm/v1/core/kv_cache_utils.py", line 1455, in get_kv_cache_configs',
        "    _check_enough_kv_cache_memory(",
        f'  File "{SITE}/vllm/v1/core/kv_cache_utils.py", line 712, in _check_enough_kv_cache_memory',
        "    raise ValueError(",
    ]


def engine_failed_record(exception_text: str, kind: str = "device") -> str:
    """The `logger.exception` record of the EngineCore: message, traceback, exception."""
    frames = _engine_init_frames() if kind == "device" else _kv_frames()
    return "\n".join(["EngineCore failed to start.", *frames, exception_text])


def process_engine_core_stderr(exception_text: str, kind: str = "device") -> str:
    """What multiprocessing prints to stderr when the EngineCore process body raises."""
    frames = _engine_init_frames() if kind == "device" else _kv_frames()
    head = [
        "Process EngineCore:",
        "Traceback (most recent call last):",
        f'  File "{PYLIB}/multiprocessing/process.py", line 314, in _bootstrap',
        "    self.run()",
        f'  File "{PYLIB}/multiprocessing/process.py", line 108, in run',
        "    self._target(*self._args, **self._kwargs)",
        f'  File "{SITE}/vllm/v1/engine/core.py", line 1144, in run_engine_core',
        "    raise e",
    ]
    return "\n".join(head + frames[1:] + [exception_text])


def _cli_frames() -> list[str]:
    return [
        "Traceback (most recent call last):",
        '  File "/usr/local/python3.11.14/bin/vllm", line 6, in <module>',
        "    sys.exit(main())",
        "             ^^^^^^",
        f'  File "{SITE}/vllm/entrypoints/cli/main.py", line 92, in main',
        "    args.dispatch_function(args)",
        f'  File "{SITE}/vllm/entrypoints/cli/serve.py", line 122, in cmd',
        "    uvloop.run(run_server(args))",
        f'  File "{SITE}/uvloop/__init__.py", line 92, in run',
        "    return runner.run(wrapper())",
        "           ^^^^^^^^^^^^^^^^^^^^^",
        '  File "/usr/local/python3.11.14/lib/python3.11/asyncio/runners.py", line 118, in run',
        "    return self._loop.run_until_complete(task)",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        '  File "uvloop/loop.pyx", line 1518, in uvloop.loop.Loop.run_until_complete',
        f'  File "{SITE}/uvloop/__init__.py", line 48, in wrapper',
        "    return await main",
        "           ^^^^^^^^^^",
    ]


def engine_init_failed_traceback() -> str:
    """The API server's traceback after its EngineCore died during start-up (fixture 004)."""
    return "\n".join(
        [
            *_cli_frames(),
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 693, in run_server',
            "    await run_server_worker(listen_address, sock, args, **uvicorn_kwargs)",
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 707, in run_server_worker',
            "    async with build_async_engine_client(",
            f'  File "{SITE}/vllm/v1/engine/core_client.py", line 535, in __init__',
            "    with launch_core_engines(",
            '  File "/usr/local/python3.11.14/lib/python3.11/contextlib.py", line 144, in __exit__',
            "    next(self.gen)",
            f'  File "{SITE}/vllm/v1/engine/utils.py", line 1128, in launch_core_engines',
            "    wait_for_engine_startup(",
            f'  File "{SITE}/vllm/v1/engine/utils.py", line 1187, in wait_for_engine_startup',
            "    raise RuntimeError(",
            "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
        ]
    )


def port_in_use_traceback(os_error: str) -> str:
    """`create_server_socket` failing to bind, as vLLM >= 0.8 reports a busy port."""
    return "\n".join(
        [
            *_cli_frames(),
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 680, in run_server',
            "    listen_address, sock = setup_server(args)",
            "                           ^^^^^^^^^^^^^^^^^^",
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 652, in setup_server',
            "    sock = create_server_socket(sock_addr)",
            "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 612, in create_server_socket',
            "    sock.bind(addr)",
            f"OSError: {os_error}",
        ]
    )


def config_validation_traceback(message: str) -> str:
    """pydantic's ValidationError for ModelConfig, raised while building the engine config."""
    return "\n".join(
        [
            *_cli_frames(),
            f'  File "{SITE}/vllm/entrypoints/openai/api_server.py", line 693, in run_server',
            "    await run_server_worker(listen_address, sock, args, **uvicorn_kwargs)",
            f'  File "{SITE}/vllm/engine/arg_utils.py", line 1371, in create_model_config',
            "    return ModelConfig(",
            "           ^^^^^^^^^^^^",
            f'  File "{SITE}/pydantic/_internal/_dataclasses.py", line 121, in __init__',
            "    s.__pydantic_validator__.validate_python(ArgsKwargs(args, kwargs), self_instance=s)",
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig",
            f"  Value error, {message} [type=value_error, input_value=ArgsKwargs((), {{'model': ...}}), "
            "input_type=ArgsKwargs]",
            "    For further information visit https://errors.pydantic.dev/2.12/v/value_error",
        ]
    )


def model_not_found_traceback(model: str) -> str:
    """What vLLM prints for a path with no config.json that is not a hub id either."""
    return "\n".join(
        [
            *_cli_frames(),
            f'  File "{SITE}/vllm/transformers_utils/config.py", line 598, in get_config',
            "    raise ValueError(",
            f"ValueError: Invalid repository ID or local directory specified: '{model}'.",
            "Please verify the following requirements:",
            "1. Provide a valid Hugging Face repository ID.",
            "2. Specify a local directory that contains a recognized configuration file.",
            "   - For Hugging Face models: ensure the presence of a 'config.json'.",
            "   - For Mistral models: ensure the presence of a 'params.json'.",
        ]
    )


def unsupported_architecture_message(architecture: str, supported: tuple[str, ...]) -> str:
    keys = ", ".join(f"'{name}'" for name in supported)
    return (
        f"Model architectures ['{architecture}'] are not supported for now. "
        f"Supported architectures: dict_keys([{keys}])"
    )


def trust_remote_code_message() -> str:
    return (
        "Failed to load the model config. If the model is a custom model not yet available in the "
        "HuggingFace transformers library, consider setting `trust_remote_code=True` in LLM or using "
        "the `--trust-remote-code` flag in the CLI."
    )
