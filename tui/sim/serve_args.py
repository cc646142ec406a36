"""The `vllm serve` command line, parsed the way vLLM 0.18 parses it.

vLLM builds its CLI with argparse (`FlexibleArgumentParser`): an unknown flag
ends with `vllm serve: error: unrecognized arguments: …` and status 2, a bad
value with `argument --port: invalid int value: …`. Underscores are accepted in
place of dashes (`--max_model_len`). The parser here declares the flags
operators use on Ascend hosts, in vLLM's order, so that the `non-default args`
line of the start-up log lists them in the same order a real server does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

VLLM_VERSION = "0.18.0"
TOP_LEVEL_COMMANDS = ("chat", "complete", "serve", "bench", "collect-env", "run-batch")
TOP_LEVEL_USAGE = "usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...\n"


def human_int(text: str) -> int:
    """An int, or vLLM's human-readable sizes: `32k` = 32000, `32K` = 32768, `1m`, `1M`."""
    value = text.strip()
    multipliers = {"k": 1000, "K": 1024, "m": 1000**2, "M": 1024**2, "g": 1000**3, "G": 1024**3}
    try:
        if value and value[-1] in multipliers:
            return int(float(value[:-1]) * multipliers[value[-1]])
        return int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid human-readable integer value: {text!r}") from exc


def json_object(text: str) -> dict[str, Any]:
    """A JSON object argument such as `--compilation-config '{"cudagraph_mode": "FULL_DECODE_ONLY"}'`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON value: {text!r}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object: {text!r}")
    return value


def _flag(parser: argparse.ArgumentParser, *names: str) -> None:
    """A boolean option off by default; like vLLM's config-generated flags it also has a `--no-` form."""
    parser.add_argument(*names, action=argparse.BooleanOptionalAction, default=False)


def _toggle(parser: argparse.ArgumentParser, name: str, default: bool | None) -> None:
    parser.add_argument(name, action=argparse.BooleanOptionalAction, default=default)


def build_serve_parser() -> argparse.ArgumentParser:
    """The `vllm serve` parser: frontend options first, then engine options, as in vLLM."""
    p = argparse.ArgumentParser(
        prog="vllm serve",
        usage="vllm serve [model_tag] [options]",
        description="Launch a local OpenAI-compatible API server to serve LLM completions via HTTP.",
    )
    p.add_argument("model_tag", nargs="?", default=None, help="The model tag to serve.")
    p.add_argument("--headless", action="store_true", default=False)  # a plain switch of `serve` itself
    p.add_argument("--api-server-count", "-asc", type=int, default=None)
    p.add_argument("--config", type=str, default=None)
    # Frontend
    p.add_argument("--host", type=str, default=None)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--uds", type=str, default=None)
    p.add_argument(
        "--uvicorn-log-level",
        default="info",
        choices=["critical", "debug", "error", "info", "trace", "warning"],
    )
    _flag(p, "--disable-uvicorn-access-log")
    _flag(p, "--allow-credentials")
    p.add_argument("--allowed-origins", type=json.loads, default=["*"])
    p.add_argument("--allowed-methods", type=json.loads, default=["*"])
    p.add_argument("--allowed-headers", type=json.loads, default=["*"])
    p.add_argument("--api-key", type=str, nargs="+", default=None)
    p.add_argument("--lora-modules", type=str, nargs="+", default=None)
    p.add_argument("--chat-template", type=str, default=None)
    p.add_argument("--chat-template-content-format", default="auto", choices=["auto", "string", "openai"])
    p.add_argument("--response-role", type=str, default="assistant")
    p.add_argument("--ssl-keyfile", type=str, default=None)
    p.add_argument("--ssl-certfile", type=str, default=None)
    p.add_argument("--root-path", type=str, default=None)
    p.add_argument("--middleware", type=str, action="append", default=[])
    _flag(p, "--return-tokens-as-token-ids")
    _flag(p, "--disable-frontend-multiprocessing")
    _flag(p, "--enable-request-id-headers")
    _flag(p, "--enable-auto-tool-choice")
    p.add_argument("--tool-call-parser", type=str, default=None)
    p.add_argument("--tool-parser-plugin", type=str, default="")
    p.add_argument("--log-config-file", type=str, default=None)
    p.add_argument("--max-log-len", type=int, default=None)
    _flag(p, "--disable-fastapi-docs")
    _flag(p, "--enable-prompt-tokens-details")
    _flag(p, "--enable-server-load-tracking")
    _flag(p, "--enable-force-include-usage")
    _flag(p, "--enable-tokenizer-info-endpoint")
    _flag(p, "--enable-log-outputs")
    # Engine
    p.add_argument("--model", type=str, default=None)
    p.add_argument("--runner", default="auto", choices=["auto", "generate", "pooling", "draft"])
    p.add_argument("--task", type=str, default=None)
    p.add_argument("--tokenizer", type=str, default=None)
    p.add_argument("--tokenizer-mode", default="auto", choices=["auto", "slow", "mistral", "custom"])
    _flag(p, "--trust-remote-code")
    p.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float", "float16", "float32", "half"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hf-config-path", type=str, default=None)
    p.add_argument("--allowed-local-media-path", type=str, default="")
    p.add_argument("--revision", type=str, default=None)
    p.add_argument("--code-revision", type=str, default=None)
    p.add_argument("--tokenizer-revision", type=str, default=None)
    p.add_argument("--max-model-len", type=human_int, default=None)
    p.add_argument("--quantization", "-q", type=str, default=None)
    _flag(p, "--enforce-eager")
    p.add_argument("--max-logprobs", type=int, default=20)
    p.add_argument("--logprobs-mode", type=str, default="raw_logprobs")
    _flag(p, "--disable-sliding-window")
    _flag(p, "--disable-cascade-attn")
    _flag(p, "--skip-tokenizer-init")
    _flag(p, "--enable-prompt-embeds")
    p.add_argument("--served-model-name", type=str, nargs="+", default=None)
    p.add_argument("--config-format", default="auto", choices=["auto", "hf", "mistral"])
    p.add_argument("--hf-token", type=str, nargs="?", const=True, default=None)
    p.add_argument("--hf-overrides", type=json_object, default={})
    p.add_argument("--pooler-config", type=json_object, default=None)
    p.add_argument("--generation-config", type=str, default="auto")
    p.add_argument("--override-generation-config", type=json_object, default={})
    _flag(p, "--enable-sleep-mode")
    p.add_argument("--model-impl", default="auto", choices=["auto", "vllm", "transformers", "terratorch"])
    p.add_argument("--load-format", type=str, default="auto")
    p.add_argument("--download-dir", type=str, default=None)
    p.add_argument("--model-loader-extra-config", type=json_object, default={})
    p.add_argument("--ignore-patterns", type=str, nargs="+", default=[])
    _toggle(p, "--use-tqdm-on-load", True)
    p.add_argument("--structured-outputs-config", type=json_object, default=None)
    p.add_argument("--reasoning-parser", type=str, default="")
    p.add_argument("--reasoning-parser-plugin", type=str, default="")
    p.add_argument(
        "--distributed-executor-backend",
        type=str,
        default=None,
        choices=["external_launcher", "mp", "ray", "uni"],
    )
    p.add_argument("--pipeline-parallel-size", "-pp", type=int, default=1)
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    p.add_argument("--data-parallel-size", "-dp", type=int, default=1)
    p.add_argument("--data-parallel-rank", "-dpn", type=int, default=None)
    p.add_argument("--data-parallel-size-local", "-dpl", type=int, default=None)
    p.add_argument("--data-parallel-address", "-dpa", type=str, default=None)
    p.add_argument("--data-parallel-rpc-port", "-dpp", type=int, default=None)
    p.add_argument("--data-parallel-backend", "-dpb", type=str, default="mp")
    _flag(p, "--enable-expert-parallel")
    _flag(p, "--enable-eplb")
    _flag(p, "--disable-custom-all-reduce")
    p.add_argument("--worker-cls", type=str, default="auto")
    p.add_argument("--block-size", type=int, default=None, choices=[1, 8, 16, 32, 64, 128, 256])
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--kv-cache-memory-bytes", type=human_int, default=None)
    p.add_argument("--swap-space", type=float, default=4)
    p.add_argument("--kv-cache-dtype", type=str, default="auto")
    p.add_argument("--num-gpu-blocks-override", type=int, default=None)
    _toggle(p, "--enable-prefix-caching", None)
    p.add_argument("--prefix-caching-hash-algo", type=str, default="sha256")
    p.add_argument("--cpu-offload-gb", type=float, default=0)
    p.add_argument("--limit-mm-per-prompt", type=json_object, default={})
    p.add_argument("--mm-processor-kwargs", type=json_object, default=None)
    p.add_argument("--max-num-batched-tokens", type=human_int, default=None)
    p.add_argument("--max-num-seqs", type=int, default=None)
    p.add_argument("--max-num-partial-prefills", type=int, default=1)
    p.add_argument("--long-prefill-token-threshold", type=int, default=0)
    p.add_argument("--scheduling-policy", default="fcfs", choices=["fcfs", "priority"])
    _toggle(p, "--enable-chunked-prefill", None)
    _toggle(p, "--async-scheduling", None)
    p.add_argument("--speculative-config", type=json_object, default=None)
    p.add_argument("--kv-transfer-config", type=json_object, default=None)
    p.add_argument("--kv-events-config", type=json_object, default=None)
    p.add_argument("--compilation-config", "-O", type=json_object, default={})
    p.add_argument("--additional-config", type=json_object, default={})
    _flag(p, "--disable-log-stats")
    _flag(p, "--enable-log-requests")
    _flag(p, "--disable-log-requests")
    return p


def _normalize(argv: Sequence[str]) -> list[str]:
    """Accept `--max_model_len` for `--max-model-len` (vLLM's FlexibleArgumentParser does)
    and expand `-O3` to a compilation config."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "_" in arg.split("=", 1)[0]:
            key, sep, value = arg.partition("=")
            arg = key.replace("_", "-") + sep + value
        elif len(arg) > 2 and arg.startswith("-O") and arg[2:].isdigit():
            out.extend(["--compilation-config", json.dumps({"mode": int(arg[2:])})])
            continue
        out.append(arg)
    return out


def parse_serve_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the arguments after `serve`; exits with status 2 and argparse's message on error."""
    parser = build_serve_parser()
    args = parser.parse_args(_normalize(argv))
    if args.model_tag is not None:
        args.model = args.model_tag
    elif args.model is None:
        args.model = "Qwen/Qwen3-0.6B"
    return args


def non_default_args(args: argparse.Namespace) -> dict[str, Any]:
    """The `non-default args` dict vLLM logs at start-up, in declaration order."""
    parser = build_serve_parser()
    defaults = vars(parser.parse_args([]))
    return {key: value for key, value in vars(args).items() if key in defaults and value != defaults[key]}


def top_level_usage_error(command: str) -> str:
    """What the `vllm` entry point prints for an unknown sub-command."""
    choices = ", ".join(f"'{c}'" for c in TOP_LEVEL_COMMANDS)
    return TOP_LEVEL_USAGE + f"vllm: error: argument subparser: invalid choice: '{command}' (choose from {choices})\n"
