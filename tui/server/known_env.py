"""The environment variable names a vLLM server on Ascend (or NVIDIA) actually reads, and typo spotting.

A misspelled variable is silently ignored by everything: `ASCEBD_RT_VISIBLE_DEVICES=3`
(vllm-ascend PR #5581 fixed exactly that in its own docs) leaves the server on chip 0,
`VLLM_ASCEND_ENBALE_FLASHCOMM1=1` (#7866) leaves an optimisation off, and nobody is
told. The lists below let the preflight say "this looks like a typo of that" before
the launch.

Where the names come from (checked against the sources, not guessed):

- `VLLM_NAMES`: `vllm/envs.py` (`environment_variables`), the runtime variables
  operators set, plus the few build-time ones people export by habit.
- `VLLM_ASCEND_NAMES`: `vllm_ascend/envs.py` across releases (v0.7 had
  `VLLM_ENABLE_MC2`, `USING_LCCL_COM`; v0.9 `VLLM_ASCEND_ENABLE_TOPK_OPTIMIZE`,
  `VLLM_ASCEND_ENABLE_FLASHCOMM`, `VLLM_ASCEND_ENABLE_PREFETCH_MLP`…; newer ones
  `VLLM_ASCEND_ENABLE_FLASHCOMM1`, `VLLM_ASCEND_ENABLE_NZ`, `VLLM_ASCEND_ENABLE_FUSED_MC2`…).
  Names that were removed stay here: an old profile that sets them is outdated,
  not misspelled.
- `ASCEND_NAMES`, `HCCL_NAMES`: CANN, the driver runtime, torch_npu and HCCL
  variables from the CANN environment-variable reference and the vllm-ascend docs.
- `MINDSPORE_NAMES`: vLLM-MindSpore's own, which really are spelled with a
  lower-case `v` (`vLLM_MODEL_BACKEND`, `vLLM_MODEL_MEMORY_USE_GB`; the plugin
  reads exactly those), plus `VLLM_MS_MODEL_BACKEND`, the newer spelling of the first.
- `GENERAL_NAMES`: the hubs, threading, loaders, proxies, distributed launchers.

The list does not need to be complete: a name that is neither known nor close to a
known one is taken as the operator's own and left alone.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

VLLM_NAMES: frozenset[str] = frozenset(
    {
        "VLLM_HOST_IP", "VLLM_PORT", "VLLM_RPC_BASE_PATH", "VLLM_USE_MODELSCOPE",
        "VLLM_RINGBUFFER_WARNING_INTERVAL", "VLLM_NCCL_SO_PATH", "VLLM_USE_TRITON_FLASH_ATTN",
        "VLLM_FLASH_ATTN_VERSION", "VLLM_USE_STANDALONE_COMPILE", "VLLM_ENGINE_ITERATION_TIMEOUT_S",
        "VLLM_API_KEY", "VLLM_DEBUG_LOG_API_SERVER_RESPONSE", "VLLM_CACHE_ROOT", "VLLM_CONFIG_ROOT",
        "VLLM_USAGE_STATS_SERVER", "VLLM_NO_USAGE_STATS", "VLLM_DO_NOT_TRACK", "VLLM_USAGE_SOURCE",
        "VLLM_CONFIGURE_LOGGING", "VLLM_LOGGING_CONFIG_PATH", "VLLM_LOGGING_LEVEL", "VLLM_LOGGING_PREFIX",
        "VLLM_LOGITS_PROCESSOR_THREADS", "VLLM_LOG_STATS_INTERVAL", "VLLM_TRACE_FUNCTION",
        "VLLM_ATTENTION_BACKEND", "VLLM_USE_FLASHINFER_SAMPLER", "VLLM_FLASHINFER_FORCE_TENSOR_CORES",
        "VLLM_PP_LAYER_PARTITION", "VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND",
        "VLLM_CPU_NUM_OF_RESERVED_CPU", "VLLM_CPU_MOE_PREPACK", "VLLM_FUSED_MOE_CHUNK_SIZE",
        "VLLM_ENABLE_FUSED_MOE_ACTIVATION_CHUNKING", "VLLM_USE_RAY_SPMD_WORKER", "VLLM_USE_RAY_COMPILED_DAG",
        "VLLM_USE_RAY_COMPILED_DAG_CHANNEL_TYPE", "VLLM_USE_RAY_COMPILED_DAG_OVERLAP_COMM",
        "VLLM_WORKER_MULTIPROC_METHOD", "VLLM_ASSETS_CACHE", "VLLM_IMAGE_FETCH_TIMEOUT",
        "VLLM_VIDEO_FETCH_TIMEOUT", "VLLM_AUDIO_FETCH_TIMEOUT", "VLLM_VIDEO_LOADER_BACKEND",
        "VLLM_MM_INPUT_CACHE_GIB", "VLLM_TARGET_DEVICE", "VLLM_USE_PRECOMPILED",
        "VLLM_PRECOMPILED_WHEEL_LOCATION", "VLLM_NO_DEPRECATION_WARNING", "VLLM_KEEP_ALIVE_ON_ENGINE_DEATH",
        "VLLM_ALLOW_LONG_MAX_MODEL_LEN", "VLLM_RPC_TIMEOUT", "VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "VLLM_PLUGINS",
        "VLLM_LORA_RESOLVER_CACHE_DIR", "VLLM_TORCH_PROFILER_DIR", "VLLM_TORCH_PROFILER_WITH_STACK",
        "VLLM_USE_TRITON_AWQ", "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "VLLM_SKIP_P2P_CHECK",
        "VLLM_DISABLED_KERNELS", "VLLM_USE_V1", "VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_LOG_BATCHSIZE_INTERVAL",
        "VLLM_DISABLE_COMPILE_CACHE", "VLLM_SERVER_DEV_MODE", "VLLM_V1_OUTPUT_PROC_CHUNK_SIZE",
        "VLLM_MLA_DISABLE", "VLLM_RAY_PER_WORKER_GPUS", "VLLM_RAY_BUNDLE_INDICES", "VLLM_CUDART_SO_PATH",
        "VLLM_DP_RANK", "VLLM_DP_RANK_LOCAL", "VLLM_DP_SIZE", "VLLM_DP_MASTER_IP", "VLLM_DP_MASTER_PORT",
        "VLLM_MOE_DP_CHUNK_SIZE", "VLLM_RANDOMIZE_DP_DUMMY_INPUTS", "VLLM_MARLIN_USE_ATOMIC_ADD",
        "VLLM_USE_DEEP_GEMM", "VLLM_XGRAMMAR_CACHE_MB", "VLLM_MSGPACK_ZERO_COPY_THRESHOLD",
        "VLLM_ALLOW_INSECURE_SERIALIZATION", "VLLM_NIXL_SIDE_CHANNEL_HOST", "VLLM_NIXL_SIDE_CHANNEL_PORT",
        "VLLM_NIXL_ABORT_REQUEST_TIMEOUT", "VLLM_ALL2ALL_BACKEND", "VLLM_TOOL_PARSE_REGEX_TIMEOUT_SECONDS",
        "VLLM_SLEEP_WHEN_IDLE", "VLLM_MQ_MAX_CHUNK_BYTES_MB", "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS",
        "VLLM_KV_CACHE_LAYOUT", "VLLM_COMPUTE_NANS_IN_LOGITS", "VLLM_LOOPBACK_IP", "VLLM_MODEL_REDIRECT_PATH",
        "VLLM_XLA_CACHE_PATH", "VLLM_XLA_CHECK_RECOMPILATION", "VLLM_ENGINE_READY_TIMEOUT_S",
        "VLLM_TEST_USE_PRECOMPILED_NIGHTLY_WHEEL", "VLLM_USE_CUDNN_PREFILL",
        # Unprefixed names vllm/envs.py reads too.
        "LOCAL_RANK", "CUDA_HOME", "MAX_JOBS", "NVCC_THREADS", "CMAKE_BUILD_TYPE", "VERBOSE",
        "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_ENDPOINT_URL",
        "Q_SCALE_CONSTANT", "K_SCALE_CONSTANT", "V_SCALE_CONSTANT",
    }
)

VLLM_ASCEND_NAMES: frozenset[str] = frozenset(
    {
        "VLLM_VERSION", "COMPILE_CUSTOM_KERNELS", "CXX_COMPILER", "C_COMPILER", "SOC_VERSION",
        "HCCL_SO_PATH", "HCCN_PATH", "VLLM_ENABLE_MC2", "USING_LCCL_COM", "MOE_ALL2ALL_BUFFER",
        "VLLM_ASCEND_ACL_OP_INIT_MODE", "PROMPT_DEVICE_ID", "DECODE_DEVICE_ID", "LLMDATADIST_COMM_PORT",
        "LLMDATADIST_SYNC_CACHE_WAIT_TIME", "GLOBAL_RANKTABLE", "DISAGGREGATED_PREFILL_RANK_TABLE_PATH",
        "VLLM_ASCEND_LLMDD_RPC_IP", "VLLM_ASCEND_LLMDD_RPC_PORT", "VLLM_ASCEND_TRACE_RECOMPILES",
        "VLLM_ENABLE_FUSED_EXPERTS_ALLGATHER_EP", "VLLM_ASCEND_ENABLE_DBO",
        "VLLM_ASCEND_MODEL_EXECUTE_TIME_OBSERVE", "USE_OPTIMIZED_MODEL",
        "VLLM_ASCEND_KV_CACHE_MEGABYTES_FLOATING_TOLERANCE", "VLLM_ASCEND_ENABLE_TOPK_OPTIMIZE",
        "VLLM_ASCEND_ENABLE_TOPK_TOPP_OPTIMIZATION", "VLLM_ASCEND_MLA_PA",
        "VLLM_ASCEND_ENABLE_MATMUL_ALLREDUCE", "VLLM_ASCEND_ENABLE_FLASHCOMM", "VLLM_ASCEND_ENABLE_FLASHCOMM1",
        "VLLM_ASCEND_FLASHCOMM2_PARALLEL_SIZE", "VLLM_ASCEND_ENABLE_PREFETCH_MLP",
        "VLLM_ASCEND_MLP_GATE_UP_PREFETCH_SIZE", "VLLM_ASCEND_MLP_DOWN_PREFETCH_SIZE",
        "VLLM_ASCEND_ENABLE_DENSE_OPTIMIZE", "VLLM_ASCEND_ENABLE_MLP_OPTIMIZE", "PHYSICAL_DEVICES",
        "VLLM_ASCEND_ENABLE_MLAPO", "VLLM_ASCEND_ENABLE_NZ", "VLLM_ASCEND_ENABLE_CONTEXT_PARALLEL",
        "DYNAMIC_EPLB", "VLLM_ASCEND_ENABLE_FUSED_MC2", "VLLM_ASCEND_BALANCE_SCHEDULING",
        "VLLM_ASCEND_FUSION_OP_TRANSPOSE_KV_CACHE_BY_BLOCK", "VLLM_ASCEND_ENABLE_BATCH_MEMCPY",
        "VLLM_ASCEND_SFA_SORT_TOPK", "MSMONITOR_USE_DAEMON", "MSMEMSCOPE_ENABLE", "MSMEMSCOPE_OUTPUT_PATH",
        "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES",
    }
)

ASCEND_NAMES: frozenset[str] = frozenset(
    {
        # Which chips, how much memory.
        "ASCEND_RT_VISIBLE_DEVICES", "ASCEND_VISIBLE_DEVICES", "ASCEND_DEVICE_ID", "ASCEND_TOTAL_MEMORY_GB",
        "ASCEND_RUNTIME_OPTIONS",
        # Where CANN lives (set_env.sh exports these).
        "ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_OPP_PATH", "ASCEND_AICPU_PATH",
        "ASCEND_CUSTOM_PATH", "ASCEND_CUSTOM_OPP_PATH", "ASCEND_CACHE_PATH", "ASCEND_WORK_PATH",
        "TOOLCHAIN_HOME", "ATB_HOME_PATH", "ASCEND_NNAL_HOME",
        # Debugging and logs.
        "ASCEND_LAUNCH_BLOCKING", "ASCEND_GLOBAL_LOG_LEVEL", "ASCEND_GLOBAL_EVENT_ENABLE",
        "ASCEND_SLOG_PRINT_TO_STDOUT", "ASCEND_PROCESS_LOG_PATH", "ASCEND_MODULE_LOG_LEVEL",
        "ASCEND_HOST_LOG_FILE_NUM", "ASCEND_COREDUMP_SIGNAL", "ASCEND_BASE_PORT",
        "ASCEND_MAX_OP_CACHE_SIZE", "ASCEND_REMAIN_CACHE_SIZE_RATIO",
        "ASDOPS_LOG_LEVEL", "ASDOPS_LOG_TO_STDOUT", "ASDOPS_LOG_TO_FILE",
        "ATB_LOG_LEVEL", "ATB_LOG_TO_STDOUT", "ATB_LOG_TO_FILE",
        # torch_npu and the operator libraries.
        "TASK_QUEUE_ENABLE", "PYTORCH_NPU_ALLOC_CONF", "INF_NAN_MODE_ENABLE", "INF_NAN_MODE_FORCE_DISABLE",
        "COMBINED_ENABLE", "ACL_OP_INIT_MODE", "ACL_DEVICE_SYNC_TIMEOUT", "CPU_AFFINITY_CONF",
        "MULTI_STREAM_MEMORY_REUSE", "NPU_ASD_ENABLE", "P2P_HCCL_BUFFSIZE", "TORCH_NPU_DISABLED_WARNING",
        "ATB_OPERATION_EXECUTE_ASYNC", "ATB_CONTEXT_WORKSPACE_SIZE", "ATB_LAUNCH_KERNEL_WITH_TILING",
        "ATB_MATMUL_SHUFFLE_K_ENABLE", "ATB_LLM_LCOC_ENABLE", "ATB_WORKSPACE_MEM_ALLOC_GLOBAL",
        "LCCL_DETERMINISTIC",
        # Rank tables and launcher variables of the Ascend distributed stack.
        "RANK_TABLE_FILE", "RANK_ID", "RANK_SIZE", "DEVICE_ID",
    }
)

HCCL_NAMES: frozenset[str] = frozenset(
    {
        "HCCL_OP_EXPANSION_MODE", "HCCL_BUFFSIZE", "HCCL_CONNECT_TIMEOUT", "HCCL_EXEC_TIMEOUT",
        "HCCL_IF_IP", "HCCL_IF_BASE_PORT", "HCCL_SOCKET_IFNAME", "HCCL_SOCKET_FAMILY",
        "HCCL_INTRA_ROCE_ENABLE", "HCCL_INTRA_PCIE_ENABLE", "HCCL_WHITELIST_DISABLE", "HCCL_WHITELIST_FILE",
        "HCCL_RDMA_TC", "HCCL_RDMA_SL", "HCCL_RDMA_TIMEOUT", "HCCL_RDMA_RETRY_CNT",
        "HCCL_RDMA_PCIE_DIRECT_POST_NOSTRICT", "HCCL_DETERMINISTIC", "HCCL_ENTRY_LOG_ENABLE", "HCCL_ALGO",
        "HCCL_OP_BASE_FFTS_MODE_ENABLE", "HCCL_NPU_SOCKET_PORT", "HCCL_NPU_SOCKET_PORT_RANGE",
        "HCCL_HOST_SOCKET_PORT_RANGE", "HCCL_ASYNC_ERROR_HANDLING", "HCCL_DESYNC_DEBUG", "HCCL_EVENT_TIMEOUT",
    }
)

MINDSPORE_NAMES: frozenset[str] = frozenset(
    {
        "vLLM_MODEL_BACKEND", "VLLM_MS_MODEL_BACKEND", "vLLM_MODEL_MEMORY_USE_GB", "MINDFORMERS_MODEL_CONFIG",
        "MS_ENABLE_LCCL", "MS_ALLOC_CONF", "MS_DEV_RUNTIME_CONF", "MS_JIT", "MS_JIT_MODULES",
        "MS_COMPILER_CACHE_ENABLE", "MS_COMPILER_CACHE_PATH", "MS_ENABLE_TRACE_MEMORY",
        "MS_INTERNAL_DISABLE_CUSTOM_KERNEL_LIST", "MS_DISABLE_INTERNAL_KERNELS_LIST", "CPU_AFFINITY",
        "GLOG_v", "GLOG_logtostderr", "GLOG_log_dir", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME",
    }
)

GENERAL_NAMES: frozenset[str] = frozenset(
    {
        # Hugging Face.
        "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
        "HF_HUB_ENABLE_HF_TRANSFER", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DOWNLOAD_TIMEOUT",
        "HF_HUB_ETAG_TIMEOUT", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE", "HUGGING_FACE_HUB_TOKEN",
        "TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE", "TOKENIZERS_PARALLELISM", "SAFETENSORS_FAST_GPU",
        # ModelScope.
        "MODELSCOPE_CACHE", "MODELSCOPE_DOMAIN", "MODELSCOPE_ENDPOINT", "MODELSCOPE_API_TOKEN",
        "MODELSCOPE_SDK_TOKEN", "MODELSCOPE_LOG_LEVEL", "MODELSCOPE_PREFER_AI_SITE",
        # Threads and allocators.
        "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "MALLOC_ARENA_MAX", "PYTORCH_CUDA_ALLOC_CONF",
        # NVIDIA (plain vLLM runtime).
        "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_LAUNCH_BLOCKING", "NCCL_DEBUG",
        "NCCL_SOCKET_IFNAME", "NCCL_IB_DISABLE", "NCCL_P2P_DISABLE", "NCCL_CUMEM_ENABLE",
        # Distributed launchers and Ray.
        "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE", "RAY_ADDRESS",
        "RAY_DEDUP_LOGS", "RAY_CGRAPH_get_timeout", "RAY_memory_monitor_refresh_ms",
        # Torch.
        "TORCH_COMPILE_DEBUG", "TORCHDYNAMO_VERBOSE", "TORCHINDUCTOR_CACHE_DIR", "TORCH_LOGS",
        "TORCH_DEVICE_BACKEND_AUTOLOAD",
        # Process basics.
        "PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONHASHSEED",
        "PYTHONWARNINGS", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "HOME", "USER", "TMPDIR", "TZ",
        "LANG", "LC_ALL", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
        # Proxies.
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "all_proxy",
    }
)

KNOWN_ENV_VARS: frozenset[str] = (
    VLLM_NAMES | VLLM_ASCEND_NAMES | ASCEND_NAMES | HCCL_NAMES | MINDSPORE_NAMES | GENERAL_NAMES
)

_CLOSENESS_CUTOFF = 0.8
"""difflib ratio a candidate needs at all: one wrong letter in a 5-letter name is 0.8."""

_SHORT_TOKEN = 2
"""`TP`, `DP`, `PP`, `EP`: swapping one of these abbreviations is a different variable, not a typo."""


def is_known(name: str) -> bool:
    """True for a name in the lists (exact case: the environment is case-sensitive)."""
    return name in KNOWN_ENV_VARS


def near_miss(name: str, known: Iterable[str] = KNOWN_ENV_VARS) -> str | None:
    """The known name `name` was probably meant to be, or None.

    None when `name` is itself known, or when nothing known is close: a variable
    of the operator's own (`MY_MODEL_DIR`) must not be reported as a typo. A name
    that differs from a known one only in letter case (`vllm_use_modelscope`) is a
    typo, because Linux reads variables case-sensitively.

    difflib proposes candidates; a candidate is accepted only within a small edit
    distance (one edit for names up to 10 characters, two up to 20, three beyond;
    a swap of two neighbours counts as one), and never when the names differ only in digits
    (`…_FLASHCOMM1` against `…_FLASHCOMM2`) or in one short abbreviation
    (`…_DP_SIZE` against `…_EP_SIZE`), because those are families of real,
    different variables rather than slips of the finger.
    """
    names = known if isinstance(known, frozenset) else frozenset(known)
    if name in names:
        return None
    by_upper = _by_upper(names)
    upper = name.upper()
    if upper in by_upper:
        return by_upper[upper]
    for candidate in difflib.get_close_matches(upper, list(by_upper), n=5, cutoff=_CLOSENESS_CUTOFF):
        if _is_slip(upper, candidate):
            return by_upper[candidate]
    return None


@functools.lru_cache(maxsize=4)
def _by_upper(names: frozenset[str]) -> dict[str, str]:
    """Upper-cased name → the name as spelled (the first in sorted order when two differ only in case)."""
    index: dict[str, str] = {}
    for item in sorted(names):
        index.setdefault(item.upper(), item)
    return index


def _is_slip(typed: str, known: str) -> bool:
    longest = max(len(typed), len(known))
    allowed = 1 if longest <= 10 else 2 if longest <= 20 else 3
    if _edit_distance(typed, known) > allowed:
        return False
    if _without_digits(typed) == _without_digits(known):
        return False  # only the numbers differ: a sibling variable
    return not _differs_in_one_short_token(typed, known)


def _without_digits(text: str) -> str:
    return "".join(char for char in text if not char.isdigit())


def _differs_in_one_short_token(left: str, right: str) -> bool:
    a, b = left.split("_"), right.split("_")
    if len(a) != len(b):
        return False
    different = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(different) == 1 and max(len(different[0][0]), len(different[0][1])) <= _SHORT_TOKEN


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbouring letters counts as one edit (OSA)."""
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        previous_previous, previous = previous, current
    return previous[len(b)]
