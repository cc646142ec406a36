"""From a profile's `[stages.bench]` and `[stages.precision]` settings to the stages' command-line options.

The console runs `python -m tui.stages.bench <mode> …` and `python -m
tui.stages.precision …` with the same options an operator types after
`npu-console bench` / `npu-console precision`, so a run from the TUI can be
repeated from the shell exactly (the options are in the run's stage.json).
Kept apart from the stages so they stay free of the profile model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from tui.profile.model import AccuracySettings, BenchSettings, PrecisionSettings

BenchMode = Literal["latency", "concurrency", "serve"]
BENCH_MODES: tuple[BenchMode, ...] = ("latency", "concurrency", "serve")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def has_tokenizer(folder: Path | None) -> bool:
    """True when `folder` holds a tokenizer the benchmark can load (else it asks the server's /tokenize)."""
    return folder is not None and any((folder / name).is_file() for name in TOKENIZER_FILES)


def _number(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}"


def bench_args(
    settings: BenchSettings,
    mode: BenchMode,
    url: str,
    *,
    model: str | None = None,
    label: str | None = None,
    tokenizer: Path | None = None,
    api_key_env: str | None = None,
) -> list[str]:
    """The stage's arguments for `mode` from the profile's settings, against the server at `url`."""
    args: list[str] = [mode, "--url", url]
    if model:
        args += ["--model", model]
    if label:
        args += ["--label", label]
    if api_key_env:
        args += ["--api-key-env", api_key_env]
    if mode == "latency":
        latency = settings.latency
        args += ["--runs", str(latency.runs), "--max-tokens", str(latency.max_tokens), "--prompt", latency.prompt]
    elif mode == "concurrency":
        load = settings.concurrency
        args += ["--requests", str(load.requests), "--concurrency", str(load.concurrency),
                 "--max-tokens", str(load.max_tokens), "--prompt", load.prompt]
    else:
        serve = settings.serve
        args += [
            "--endpoint", serve.endpoint,
            "--num-prompts", str(serve.num_prompts),
            "--random-input-len", str(serve.random_input_len),
            "--random-output-len", str(serve.random_output_len),
            "--request-rate", _number(serve.request_rate),
            "--burstiness", _number(serve.burstiness),
            "--warmup", str(serve.warmup),
            "--percentiles", ",".join(f"{p:g}" for p in serve.percentiles),
        ]
        if serve.max_concurrency is not None:
            args += ["--max-concurrency", str(serve.max_concurrency)]
        if serve.ignore_eos:
            args.append("--ignore-eos")
        if has_tokenizer(tokenizer):
            args += ["--tokenizer", str(tokenizer)]
    return args


def precision_args(
    settings: PrecisionSettings,
    model_dir: Path,
    prompts_file: Path,
    *,
    url: str | None = None,
    served_model: str | None = None,
    json_file: Path | None = None,
) -> list[str]:
    """The precision stage's arguments: the profile's device, dtype and thresholds; API mode when `url` is given."""
    limits = settings.thresholds
    args: list[str] = ["--model", str(model_dir), "--prompts", str(prompts_file)]
    if url:
        args += ["--url", url]
        if served_model:
            args += ["--served-model", served_model]
    else:
        args += ["--device", settings.device, "--dtype", settings.dtype]
    args += [
        "--top1-min", f"{limits.top1_agreement_min:g}",
        "--top5-min", f"{limits.top5_overlap_min:g}",
        "--cosine-min", f"{limits.cosine_min:g}",
        "--noise-floor-ratio-max", f"{limits.noise_floor_ratio_max:g}",
    ]
    if limits.relative_error_max is not None:
        args += ["--relative-error-max", f"{limits.relative_error_max:g}"]
    if limits.kl_max is not None:
        args += ["--kl-max", f"{limits.kl_max:g}"]
    if json_file is not None:
        args += ["--json", str(json_file)]
    return args


def accuracy_args(settings: AccuracySettings, url: str, *, model: str | None = None,
                  api_key_env: str | None = None) -> list[str]:
    """The accuracy stage's arguments from the profile's `[stages.accuracy]`, against the server at `url`."""
    args: list[str] = ["--url", url]
    if model:
        args += ["--model", model]
    if api_key_env:
        args += ["--api-key-env", api_key_env]
    args += [
        "--dataset", settings.dataset,
        "--limit", str(settings.limit),
        "--shots", str(settings.shots),
        "--grader", settings.grader,
        f"--{settings.mode}",
        "--max-tokens", str(settings.max_tokens),
        "--temperature", f"{settings.temperature:g}",
        "--concurrency", str(settings.concurrency),
    ]
    if settings.top_p is not None:
        args += ["--top-p", f"{settings.top_p:g}"]
    return args
