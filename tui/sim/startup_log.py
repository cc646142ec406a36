"""Start-up lines that both simulated processes print, in vLLM-Ascend 0.18's wording.

The platform plugin banner, the compilation-mode line and the ACL graph sizing
lines are printed once by the API server and again by the EngineCore, as in the
real fixture 001. The `[file.py:line]` locations are the ones a 0.18 log shows,
so a reader keyed on them (or on the text) treats the sim like the real thing.
"""

from __future__ import annotations

from tui.sim.engine_plan import EnginePlan
from tui.sim.logfmt import VllmLog
from tui.sim.serve_args import VLLM_VERSION

FULL_GRAPH_WARNING = (
    "\n"
    "            **********************************************************************************\n"
    "            * WARNING: You have enabled the *full graph* feature.\n"
    "            * This is an early experimental stage and may involve various unknown issues.\n"
    "            * A known problem is that capturing too many batch sizes can lead to OOM\n"
    "            * (Out of Memory) errors or inference hangs. If you encounter such issues,\n"
    "            * consider reducing `gpu_memory_utilization` or manually specifying a smaller\n"
    "            * batch size for graph capture.\n"
    "            **********************************************************************************"
)


def plugin_lines(log: VllmLog) -> None:
    """What every vLLM process prints while loading the platform plugin (before its prefix exists)."""
    bare = log.without_prefix()
    bare.info("__init__.py:44", "Available plugins for group vllm.platform_plugins:")
    bare.info("__init__.py:46", "- ascend -> vllm_ascend:register")
    bare.info(
        "__init__.py:49",
        "All plugins in this group will be loaded. Set `VLLM_PLUGINS` to control which plugins to load.",
    )
    bare.info("__init__.py:239", "Platform plugin ascend is activated")


def model_loader_lines(log: VllmLog) -> None:
    for cls, fmt in (
        ("vllm_ascend.model_loader.netloader.netloader.ModelNetLoaderElastic", "netloader"),
        ("vllm_ascend.model_loader.rfork.rfork_loader.RForkModelLoader", "rfork"),
    ):
        log.info("__init__.py:110", f"Registered model loader `<class '{cls}'>` with load format `{fmt}`")


def banner(log: VllmLog, model: str) -> None:
    """The 0.16+ ASCII-art logo record with version and model."""
    log.info(
        "utils.py:297",
        "\n"
        "       █     █     █▄   ▄█\n"
        f" ▄▄ ▄█ █     █     █ ▀▄▀ █  version {VLLM_VERSION}\n"
        f"  █▄█▀ █     █     █     █  model   {model}\n"
        "   ▀▀  ▀▀▀▀▀ ▀▀▀▀▀ ▀     ▀\n",
    )


def ascend_config_lines(log: VllmLog) -> None:
    log.info("ascend_config.py:425", "Dynamic EPLB is False")
    log.info("ascend_config.py:426", "The number of redundant experts is 0")


def compilation_lines(log: VllmLog, plan: EnginePlan) -> None:
    """The compilation-mode line and, for graph modes, the ACL graph sizing lines."""
    if plan.compilation == "eager":
        log.info("platform.py:354", "Compilation disabled, using eager mode by default")
        log.info("platform.py:502", "Set PYTORCH_NPU_ALLOC_CONF=expandable_segments:True")
        return
    if plan.compilation == "PIECEWISE":
        log.info(
            "platform.py:354",
            "PIECEWISE compilation enabled on NPU. use_inductor not supported - using only ACL Graph mode",
        )
    else:
        log.info(
            "platform.py:377",
            "FULL_DECODE_ONLY compilation enabled on NPU. use_inductor not supported - using only ACL Graph mode",
        )
        log.warning("platform.py:393", FULL_GRAPH_WARNING)
    log.info(
        "utils.py:549",
        f"Calculated maximum supported batch sizes for ACL graph: {plan.graph_max_batch_sizes}",
    )
    log.warning(
        "utils.py:550",
        "Currently, communication is performed using FFTS+ method, which reduces the number of available "
        "streams and, as a result, limits the range of runtime shapes that can be handled. To both improve "
        "communication performance and increase the number of supported shapes, "
        "set HCCL_OP_EXPANSION_MODE=AIV.",
    )
    captured = len(plan.capture_sizes)
    if captured == plan.requested_capture_sizes:
        log.info(
            "utils.py:582",
            f"No adjustment needed for ACL graph batch sizes: {plan.architecture} model "
            f"(layers: {plan.num_layers}) with {captured} sizes",
        )
    else:
        log.info(
            "utils.py:598",
            f"Adjusted ACL graph batch sizes for {plan.architecture} model (layers: {plan.num_layers}): "
            f"{plan.requested_capture_sizes} → {captured} sizes",
        )
    log.info("platform.py:502", "Set PYTORCH_NPU_ALLOC_CONF=expandable_segments:True")
    log.info("compilation.py:289", "Enabled custom fusions: norm_quant, act_quant")


def compilation_config_repr(plan: EnginePlan) -> str:
    """The `compilation_config={…}` part of the engine config dump (Python repr, enums as in 0.18)."""
    if plan.compilation == "eager":
        mode, graph = "<CompilationMode.NONE: 0>", "<CUDAGraphMode.NONE: 0>"
    else:
        mode = "<CompilationMode.VLLM_COMPILE: 3>"
        graph = {
            "PIECEWISE": "<CUDAGraphMode.PIECEWISE: 1>",
            "FULL": "<CUDAGraphMode.FULL: 2>",
            "FULL_DECODE_ONLY": "<CUDAGraphMode.FULL_DECODE_ONLY: (2, 0)>",
        }.get(plan.compilation, "<CUDAGraphMode.PIECEWISE: 1>")
    sizes = list(plan.capture_sizes)
    biggest = max(sizes) if sizes else 0
    return (
        f"{{'mode': {mode}, 'debug_dump_path': None, 'cache_dir': '', 'compile_cache_save_format': 'binary', "
        "'backend': 'vllm_ascend.compilation.compiler_interface.AscendCompiler', 'custom_ops': ['all'], "
        "'splitting_ops': ['vllm::unified_attention', 'vllm::unified_attention_with_output', "
        "'vllm::unified_mla_attention', 'vllm::unified_mla_attention_with_output', 'vllm::mamba_mixer2', "
        "'vllm::mamba_mixer', 'vllm::short_conv', 'vllm::linear_attention', 'vllm::plamo2_mamba_mixer', "
        "'vllm::gdn_attention_core', 'vllm::kda_attention', 'vllm::sparse_attn_indexer', "
        "'vllm::unified_kv_cache_update', 'vllm::mla_forward'], 'compile_mm_encoder': False, "
        f"'compile_sizes': [], 'compile_ranges_endpoints': [{plan.max_num_batched_tokens}], "
        "'inductor_compile_config': {'enable_auto_functionalized_v2': False, 'combo_kernels': True, "
        "'benchmark_combo_kernel': True}, 'inductor_passes': {}, "
        f"'cudagraph_mode': {graph}, 'cudagraph_num_of_warmups': 1, 'cudagraph_capture_sizes': {sizes}, "
        "'cudagraph_copy_inputs': False, 'cudagraph_specialize_lora': True, "
        "'use_inductor_graph_partition': False, 'pass_config': {'fuse_norm_quant': True, "
        "'fuse_act_quant': True, 'fuse_attn_quant': False, 'enable_sp': False, 'fuse_gemm_comms': False, "
        f"'fuse_allreduce_rms': False}}, 'max_cudagraph_capture_size': {biggest}, "
        "'dynamic_shapes_config': {'type': <DynamicShapesType.BACKED: 'backed'>, 'evaluate_guards': False, "
        "'assume_32_bit_indexing': False}, 'local_cache_dir': None, 'fast_moe_cold_start': True, "
        "'static_all_moe_layers': []}"
    )


def engine_config_line(plan: EnginePlan) -> str:
    """`Initializing a V1 LLM engine (v0.18.0) with config: …` as the EngineCore logs it."""
    names = plan.served_model_names[0] if len(plan.served_model_names) == 1 else list(plan.served_model_names)
    quantization = "None" if plan.quantization is None else plan.quantization
    return (
        f"Initializing a V1 LLM engine (v{VLLM_VERSION}) with config: model='{plan.model}', "
        f"speculative_config=None, tokenizer='{plan.model}', skip_tokenizer_init=False, tokenizer_mode=auto, "
        f"revision=None, tokenizer_revision=None, trust_remote_code={plan.trust_remote_code}, "
        f"dtype=torch.{plan.dtype}, max_seq_len={plan.max_model_len}, download_dir=None, "
        f"load_format={plan.load_format}, tensor_parallel_size={plan.tensor_parallel_size}, "
        "pipeline_parallel_size=1, data_parallel_size=1, decode_context_parallel_size=1, "
        f"dcp_comm_backend=ag_rs, disable_custom_all_reduce=True, quantization={quantization}, "
        f"enforce_eager={plan.enforce_eager}, enable_return_routed_experts=False, "
        f"kv_cache_dtype={plan.kv_cache_dtype}, device_config=npu, "
        "structured_outputs_config=StructuredOutputsConfig(backend='auto', disable_any_whitespace=False, "
        f"disable_additional_properties=False, reasoning_parser='{plan.reasoning_parser}', "
        "reasoning_parser_plugin='', enable_in_reasoning=False), "
        "observability_config=ObservabilityConfig(show_hidden_metrics_for_version=None, "
        "otlp_traces_endpoint=None, collect_detailed_traces=None, kv_cache_metrics=False, "
        "kv_cache_metrics_sample=0.01, cudagraph_metrics=False, enable_layerwise_nvtx_tracing=False, "
        "enable_mfu_metrics=False, enable_mm_processor_stats=False, enable_logging_iteration_details=False), "
        f"seed={plan.seed}, served_model_name={names}, enable_prefix_caching={plan.enable_prefix_caching}, "
        "enable_chunked_prefill=True, pooler_config=None, "
        f"compilation_config={compilation_config_repr(plan)}"
    )


def tqdm_frame(desc: str, done: int, total: int, elapsed_s: float, bar: bool = False) -> str:
    """One tqdm progress line as vLLM's loaders print them (fixture 001)."""
    percent = int(100 * done / total) if total else 100
    rate = done / elapsed_s if elapsed_s > 0 and done else 0.0
    remaining = (total - done) / rate if rate > 0 else None

    def clock(seconds: float) -> str:
        whole = int(seconds)
        return f"{whole // 60:02d}:{whole % 60:02d}"

    timing = (
        f"[{clock(elapsed_s)}<?, ?it/s]"
        if remaining is None
        else f"[{clock(elapsed_s)}<{clock(remaining)}, {rate:5.2f}it/s]"
    )
    if bar:
        filled = round(30 * done / total) if total else 30
        return f"{desc}: {percent:3d}%|{'█' * filled}{' ' * (30 - filled)}| {done}/{total} {timing}"
    return f"{desc}: {percent:3d}% Completed | {done}/{total} {timing}"
