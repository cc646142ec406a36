"""Lines that state several facts at once: the engine config dump, the arguments, an echoed command, the banner.

Most key lines state one fact (`keylines`); these few state many, each in its
own syntax: the engine's `with config: model='…', dtype=torch.bfloat16,
max_seq_len=…, tensor_parallel_size=…, device_config=npu, …,
compilation_config={…}` (a Python repr with enums from ~v0.11, JSON before),
the API server's `non-default args: {…}` dict (`args: Namespace(…)` up to
~v0.8.5), a `vllm serve MODEL --flag …` command a wrapper or a shell prompt
echoed, and the ASCII-art banner's `version`/`model` lines. Each function reads
one such line and returns what it states as (field, source priority, value)
offers for the accumulator, noting graph-mode clues on the way; the priorities
say which source wins when several state the same field (RULES.md).
"""

from __future__ import annotations

import re

from tui.server.logfacts.compilation import CompilationClues

Offer = tuple[str, int, object]
"""(contract field, source priority — lower wins, value)."""

P_LINE, P_DUMP, P_ARGS, P_COMMAND, P_CONCURRENCY = 0, 1, 2, 3, 4
"""Source priorities of the fields with fallbacks: `max_model_len` from `Using max model len` (line) beats
the config dump, which beats the arguments, the echoed command and `Maximum concurrency for N tokens`."""

_DUMP_MODEL = re.compile(r"with config: model='([^']*)'")
_DUMP_DTYPE = re.compile(r"\bdtype=(?:torch\.)?(\w+)")
_DUMP_MAX_SEQ = re.compile(r"\bmax_seq_len=(\d+)")
_DUMP_TP = re.compile(r"\btensor_parallel_size=(\d+)")
_DUMP_DEVICE = re.compile(r"\bdevice_config=(\w+)")
_DUMP_EAGER = re.compile(r"\benforce_eager=True\b|CompilationMode\.NONE\b|CompilationLevel\.NO_COMPILATION\b")
_DUMP_GRAPH_ENUM = re.compile(r"'cudagraph_mode': <CUDAGraphMode\.(\w+)")
_DUMP_GRAPH_JSON = re.compile(r"\"cudagraph_mode\":\s*(\[\s*\d\s*,\s*\d\s*\]|\d)")
_DUMP_LEVEL_JSON = re.compile(r"\"level\":\s*(\d)")
_DUMP_USE_CUDAGRAPH = re.compile(r"\"use_cudagraph\":\s*true")
_DUMP_FULL_CUDA_GRAPH = re.compile(r"\"full_cuda_graph\":\s*true")
_GRAPH_JSON_MODES = {
    "0": "NONE", "1": "PIECEWISE", "2": "FULL", "[2,0]": "FULL_DECODE_ONLY", "[2,1]": "FULL_AND_PIECEWISE",
}
_DEVICES = {"npu": "ascend", "cuda": "cuda", "cpu": "cpu"}
_DUMP_QUANTIZATION = re.compile(r"\bquantization=([\w-]+)")

ARGS_DICT = {
    "model": re.compile(r"'model': '([^']*)'"),
    "dtype": re.compile(r"'dtype': '(\w+)'"),
    "max_model_len": re.compile(r"'max_model_len': (\d+)"),
    "tensor_parallel_size": re.compile(r"'tensor_parallel_size': (\d+)"),
    "max_num_batched_tokens": re.compile(r"'max_num_batched_tokens': (\d+)"),
    "enforce_eager": re.compile(r"'enforce_eager': (True)"),
    "quantization": re.compile(r"'quantization': '([\w-]+)'"),
}
"""`non-default args: {'model': …, 'max_model_len': 16384, …}`."""
ARGS_NAMESPACE = {
    "model": re.compile(r"\bmodel='([^']*)'"),
    "dtype": re.compile(r"\bdtype='(\w+)'"),
    "max_model_len": re.compile(r"\bmax_model_len=(\d+)"),
    "tensor_parallel_size": re.compile(r"\btensor_parallel_size=(\d+)"),
    "max_num_batched_tokens": re.compile(r"\bmax_num_batched_tokens=(\d+)"),
    "enforce_eager": re.compile(r"\benforce_eager=(True)"),
    "quantization": re.compile(r"\bquantization='([\w-]+)'"),
}
"""`args: Namespace(…, model='…', max_model_len=26240, …)` (≤ ~v0.8.5)."""

_COMMAND = re.compile(r"(?:^|[\s/$#>])vllm serve +(?![-\[])(\S+)")
_COMMAND_FLAGS = {
    "max_model_len": re.compile(r"\s--max[-_]model[-_]len[= ](\d+)"),
    "tensor_parallel_size": re.compile(r"\s(?:--tensor[-_]parallel[-_]size|-tp)[= ](\d+)"),
    "max_num_batched_tokens": re.compile(r"\s--max[-_]num[-_]batched[-_]tokens[= ](\d+)"),
    "enforce_eager": re.compile(r"\s--enforce[-_]eager(?=\s|$)"),
    "quantization": re.compile(r"\s(?:--quantization|-q)[= ]([\w-]+)"),
}
_BANNER_VERSION = re.compile(r" .*\S  version (\S+)$")
_BANNER_MODEL = re.compile(r" .*\S  model   (\S+)$")
_DTYPE_NAMES = {"half": "float16", "float": "float32", "bf16": "bfloat16", "fp16": "float16"}


def version_or_none(text: str) -> str | None:
    """A vLLM version as printed, or None for a redacted one (`x.x.x` in documentation samples)."""
    text = text.strip()
    return text if any(ch.isdigit() for ch in text) else None


def dtype_name(text: str) -> str | None:
    """`bfloat16` / `half` → the torch dtype name; `auto` (not a statement of the dtype) → None."""
    name = text.lower()
    if name == "auto":
        return None
    return _DTYPE_NAMES.get(name, name)


def config_dump(engine: str | None, version: str, message: str, clues: CompilationClues) -> list[Offer]:
    """`Initializing a V1 LLM engine (vX) with config: …` (`engine` None for the pre-V1 `an LLM engine`)."""
    offers: list[Offer] = [("engine", 0, engine or "V0"), ("vllm_version", 0, version_or_none(version))]
    found = _DUMP_MODEL.search(message)
    if found:
        offers.append(("model", 0, found.group(1)))
    found = _DUMP_DTYPE.search(message)
    if found:
        offers.append(("dtype", 0, dtype_name(found.group(1))))
    found = _DUMP_MAX_SEQ.search(message)
    if found:
        offers.append(("max_model_len", P_DUMP, int(found.group(1))))
    found = _DUMP_TP.search(message)
    if found:
        offers.append(("tensor_parallel_size", P_DUMP, int(found.group(1))))
    found = _DUMP_DEVICE.search(message)
    if found and found.group(1) in _DEVICES:
        offers.append(("platform", 0, _DEVICES[found.group(1)]))
    found = _DUMP_QUANTIZATION.search(message)
    if found and found.group(1) != "None":
        offers.append(("quantization", P_DUMP, found.group(1)))
    _dump_compilation(message, clues)
    return offers


def _dump_compilation(message: str, clues: CompilationClues) -> None:
    """The graph-mode clues of a config dump: the enum or JSON `cudagraph_mode`, `"level"`, `enforce_eager`."""
    if _DUMP_EAGER.search(message):
        clues.eager = True
    if clues.dump_mode is None:
        found = _DUMP_GRAPH_ENUM.search(message)
        if found:
            clues.dump_mode = found.group(1)
        else:
            found = _DUMP_GRAPH_JSON.search(message)
            if found:
                clues.dump_mode = _GRAPH_JSON_MODES.get(re.sub(r"\s+", "", found.group(1)))
    level = _DUMP_LEVEL_JSON.search(message)
    if level is not None:
        if level.group(1) == "0":
            clues.eager = True
        elif level.group(1) == "3" and clues.legacy_mode is None and _DUMP_USE_CUDAGRAPH.search(message):
            clues.legacy_mode = "FULL" if _DUMP_FULL_CUDA_GRAPH.search(message) else "PIECEWISE"


def arguments(patterns: dict[str, re.Pattern[str]], message: str, clues: CompilationClues) -> list[Offer]:
    """`non-default args: {…}` or `args: Namespace(…)` (give `ARGS_DICT` or `ARGS_NAMESPACE`)."""
    offers: list[Offer] = []
    for name, pattern in patterns.items():
        found = pattern.search(message)
        if found is None:
            continue
        value = found.group(1)
        if name == "enforce_eager":
            clues.eager = True
        elif name == "model":
            offers.append(("model", 0, value))
        elif name == "dtype":
            offers.append(("dtype", 1, dtype_name(value)))
        elif name == "quantization":
            offers.append((name, P_ARGS, value))
        else:
            offers.append((name, P_ARGS, int(value)))
    return offers


def command(message: str, clues: CompilationClues) -> list[Offer]:
    """An echoed `vllm serve MODEL --flag …` command line (a shell prompt, a wrapper script's echo)."""
    found = _COMMAND.search(message)
    if found is None:
        return []
    offers: list[Offer] = [("model", 1, found.group(1))]
    tail = message[found.end():]
    for name, pattern in _COMMAND_FLAGS.items():
        flag = pattern.search(tail)
        if flag is None:
            continue
        if name == "enforce_eager":
            clues.eager = True
        elif name == "quantization":
            offers.append((name, P_COMMAND, flag.group(1)))
        else:
            offers.append((name, P_COMMAND, int(flag.group(1))))
    return offers


def banner(message: str) -> list[Offer]:
    """The ASCII-art logo record: ` ▄▄ ▄█ █ … version X`, `█▄█▀ █ … model   Y` (glyphs may be mangled)."""
    if "  version " in message:
        found = _BANNER_VERSION.match(message)
        if found:
            return [("vllm_version", 0, version_or_none(found.group(1)))]
    elif "  model   " in message:
        found = _BANNER_MODEL.match(message)
        if found:
            return [("model", 0, found.group(1))]
    return []
