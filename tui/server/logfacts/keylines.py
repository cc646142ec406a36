"""The key lines of a `vllm serve` log, every vLLM version's wording, keyed by the message's first word.

Each key line of RULES.md §3 becomes a `Rule`: an anchored pattern,
what to do with its match, and the start-up phase the line marks. The rules are
grouped by the first word of the message, so a line costs one dict lookup and
usually no regex at all (most lines start with a word no rule cares about); a
line whose word has rules tries only those few patterns, each anchored at the
start. Lines that state many facts at once (the config dump, the arguments,
an echoed command, the banner) are read by `statements`.

Wording by version (RULES.md §3): `torch.compile takes` (≤ ~0.17) / `took`
(~0.18+) / `… and initial profiling/warmup run together took`; `init engine …
took N seconds` (≤ 0.19) / `took N s (compilation: …)`; `Starting vLLM API server
on` / `API server N on` / `server on`; `Model loading took X GB|GiB [memory] and`
(CUDA) / `Loading model weights took X GB` (V0, all vllm-ascend); `This model
supports multiple tasks` (≤ 0.10.0, no architecture) / `Resolved architecture`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tui.server.logfacts.phases import (
    API_LISTENING,
    COMPILE,
    CONFIG,
    GRAPH_CAPTURE,
    KV_CACHE,
    WEIGHTS_LOADED,
    WEIGHTS_LOADING,
)
from tui.server.logfacts.statements import P_LINE


class Rule(NamedTuple):
    """One key line: its pattern (matched at the start of the message) and what it means.

    `action` names what the accumulator does with the match: `int`, `int_commas`,
    `float`, `str` and `version` offer group `group` of the match as `field` at
    source `priority` (0 is the best source of that field); the other actions
    have their own handler. `phase` is the start-up phase the line marks, if any.
    """

    pattern: re.Pattern[str]
    action: str
    field: str = ""
    priority: int = 0
    phase: str = ""
    group: int = 1


def _rule(pattern: str, action: str, field: str = "", priority: int = 0, phase: str = "", group: int = 1) -> Rule:
    return Rule(re.compile(pattern), action, field, priority, phase, group)


_STATS_PATTERN = (
    r"(?:Engine \d+: |\d+ Engines Aggregated: )?Avg prompt throughput: ([\d.]+) tokens/s, "
    r"Avg generation throughput: ([\d.]+) tokens/s, Running: (\d+) reqs, (?:Swapped: \d+ reqs, )?"
    r"(?:Waiting|Pending): (\d+) reqs, .*?(?:GPU|CPU|XPU|NPU|TPU) KV cache usage: ([\d.]+)%"
    r"(?:.*?Prefix cache hit rate: ([\d.]+)%)?"
)

_KV_SIZE_PATTERN = (
    r"(?:GPU|CPU|XPU|NPU|TPU)(?: \+ host)? KV cache size: ([\d,]+) tokens"
    r"(?:, Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x)?"
)
"""`GPU KV cache size: N tokens` (its own line before ~0.2x); 0.32 names the pool (`CPU`, `GPU + host`) and
says the maximum concurrency on the same line."""

RECORD_RULES: dict[str, tuple[Rule, ...]] = {
    "vLLM": (
        _rule(r"vLLM API server version (\S+)", "version", "vllm_version"),
        _rule(r"vLLM server version (\S+), serving model (\S+)", "version_model"),
    ),
    "Initializing": (
        _rule(r"Initializing (?:a (V[01]) |an )LLM engine \(v([^)]*)\) with config: ", "config_dump", phase=CONFIG),
    ),
    "Dumping": (_rule(r"Dumping input data for (V[01]) LLM engine \(v([^)]*)\)", "engine_version"),),
    "non-default": (_rule(r"non-default args: \{", "args_dict"),),
    "args:": (_rule(r"args: Namespace\(", "args_namespace"),),
    "Resolved": (_rule(r"Resolved architecture: (\S+)", "str", "architecture", phase=CONFIG),),
    "This": (_rule(r"This model supports multiple tasks", "phase", phase=CONFIG),),
    "Error": (_rule(r"Error in inspecting model architecture '([^']+)'", "str", "architecture"),),
    "Model": (
        _rule(r"Model loading took ([\d.]+) Gi?B", "float", "weights_gib", phase=WEIGHTS_LOADED),
        _rule(r"Model architectures \['([^']+)'", "str", "architecture"),
    ),
    "Using": (
        _rule(r"Using max model len (\d+)", "int", "max_model_len", P_LINE, phase=CONFIG),
        _rule(r"Using cache directory: .* torch\.compile", "phase", phase=COMPILE),
    ),
    "Chunked": (
        _rule(r"Chunked prefill is enabled with max_num_batched_tokens=(\d+)", "int", "max_num_batched_tokens", P_LINE),
    ),
    "Platform": (_rule(r"Platform plugin (\w+) is activated", "platform_plugin"),),
    "Automatically": (_rule(r"Automatically detected platform (\w+)", "platform_detected"),),
    "Loading": (
        _rule(r"Loading weights took ([\d.]+) s", "float", "weights_load_s", phase=WEIGHTS_LOADED),
        _rule(r"Loading model weights took ([\d.]+) Gi?B", "float", "weights_gib", phase=WEIGHTS_LOADED),
        _rule(r"Loading model from scratch", "phase", phase=WEIGHTS_LOADING),
    ),
    "Starting": (
        _rule(r"Starting to load model", "phase", phase=WEIGHTS_LOADING),
        _rule(r"Starting vLLM (?:API )?server (?:\d+ )?on (\S+)", "str", "api_url", phase=API_LISTENING),
    ),
    "Available": (
        _rule(r"Available KV cache memory: (-?[\d.]+) GiB", "float", "kv_cache_gib", phase=KV_CACHE),
        _rule(r"Available memory: \d+, total memory: \d+", "phase", phase=KV_CACHE),  # vllm-ascend ≤ 0.14, bytes
    ),
    "GPU": (_rule(_KV_SIZE_PATTERN, "kv_cache_size", phase=KV_CACHE),),
    "Explicitly": (_rule(r"Explicitly set \(([\d.]+)/[\d.]+\) GiB for KV cache", "float", "kv_cache_gib",
                         phase=KV_CACHE),),
    "Auto": (_rule(r"Auto set \(([\d.]+)/[\d.]+\) GiB for KV cache", "float", "kv_cache_gib", phase=KV_CACHE),),
    "#": (_rule(r"# \w+ blocks: \d+", "phase", phase=KV_CACHE),),
    "Maximum": (_rule(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x", "concurrency"),),
    "torch.compile": (
        _rule(r"torch\.compile (?:takes|took) ([\d.]+) s in total", "float", "torch_compile_s", phase=COMPILE),
        _rule(
            r"torch\.compile and initial profiling/warmup run together took ([\d.]+) s",
            "float", "torch_compile_s", phase=COMPILE,
        ),
    ),
    "Dynamo": (_rule(r"Dynamo bytecode transform time", "phase", phase=COMPILE),),
    "Compiling": (_rule(r"Compiling a graph for", "phase", phase=COMPILE),),
    "Directly": (_rule(r"Directly load the compiled graph", "phase", phase=COMPILE),),
    "init": (
        _rule(
            r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s",
            "float", "engine_init_s",
        ),
    ),
    "Calculated": (
        _rule(r"Calculated maximum supported batch sizes for ACL graph: (\d+)", "int", "graph_max_batch_sizes"),
    ),
    "No": (
        _rule(r"No adjustment needed for ACL graph batch sizes: .* with (\d+) sizes", "int", "graph_capture_sizes"),
    ),
    "Adjusted": (
        _rule(r"Adjusted ACL graph batch sizes for .*?: \d+ \S+ (\d+) sizes", "int", "graph_capture_sizes"),
    ),
    "Cudagraph": (_rule(r"Cudagraph is disabled under eager mode", "eager"),),
    "Compilation": (_rule(r"Compilation disabled, using eager mode", "eager"),),
    "Capturing": (_rule(r"Capturing (?:cudagraphs|CUDA graph|ACL graph)", "phase", phase=GRAPH_CAPTURE),),
    "Graph": (_rule(r"Graph capturing finished", "phase", phase=GRAPH_CAPTURE),),
    "Engine": (_rule(_STATS_PATTERN, "stats"),),
    "Avg": (_rule(_STATS_PATTERN, "stats"),),
    "Prefix": (_rule(r"Prefix cache hit rate: GPU: ([\d.]+)%", "prefix_hit"),),
    "npu": (_rule(r"npu not support graph capture", "eager"),),
}
_NPU_MODE = (_rule(r"(\w+) compilation enabled on NPU", "npu_mode"),)
for _mode in ("PIECEWISE", "FULL", "FULL_DECODE_ONLY", "FULL_AND_PIECEWISE", "NONE"):
    RECORD_RULES[_mode] = _NPU_MODE
for _pool in ("CPU", "XPU", "NPU", "TPU"):
    RECORD_RULES[_pool] = RECORD_RULES["GPU"]
RECORD_RULES["Engines"] = RECORD_RULES["Engine"]  # `2 Engines Aggregated: …`, looked up by its second word

RAW_RULES: dict[str, tuple[Rule, ...]] = {
    "Loading": (_rule(r"Loading safetensors checkpoint shards:\s+(\d+)%", "weights_progress", phase=WEIGHTS_LOADING),),
    "Capturing": (
        _rule(r"Capturing (?:CUDA|ACL) graphs \(([\w -]+), (\w+)\)", "graph_caption", phase=GRAPH_CAPTURE),
        _rule(r"Capturing (?:CUDA graph shapes|cudagraphs|ACL graphs)", "graph_progress", phase=GRAPH_CAPTURE),
    ),
    "npu": (_rule(r"npu not support graph capture", "eager"),),
}

TQDM_PERCENT = re.compile(r":\s+(\d+)%\|?")
TQDM_COUNT = re.compile(r"\|?\s*(\d+)/(\d+) \[")

OVERRIDE = re.compile(r"(?:setting cudagraph_mode=|Overriding cudagraph_mode (?:from \w+ )?to )(\w+)")
"""A later WARNING that changes the graph mode (spec decoding, an attention backend without FULL support)."""


def first_word(message: str) -> str:
    """The dispatch key of a message: its first space-separated word ("" when it starts with a space).

    A message starting with a number (`2 Engines Aggregated: …`) is keyed by its second word.
    """
    space = message.find(" ")
    word = message if space < 0 else message[:space]
    if word[:1].isdigit() and space > 0:
        second = message.find(" ", space + 1)
        return message[space + 1:] if second < 0 else message[space + 1:second]
    return word


def version_or_none(text: str) -> str | None:
    """A vLLM version as printed, or None for a redacted one (`x.x.x` in documentation samples)."""
    text = text.strip()
    return text if any(ch.isdigit() for ch in text) else None
