"""Profiles: one TOML file per model and runtime, loaded into typed, immutable values.

This package's top is the public surface: import from `tui.profile`. The code
lives in its modules (model, key locator, schema and checks, storage and
discovery), split only to keep each file readable. Headless: nothing here imports Textual.

A profile file looks like this (every table but `[model]` is optional)::

    name = "qwen2.5-coder-0.5b"             # default: the file's stem
    description = "…"
    runtime = "vllm-ascend"                 # vllm-ascend | vllm | vllm-mindspore | simulated
    default_variant = "graph"               # must name one of [variants.*]

    [model]          id, source (modelscope | huggingface | local), path, revision
    [server]         command, model_flag, host, port, served_model_name, api_key_env, extra_args
    [server.flags]   vLLM flags by their dashed names: max-model-len = 32768, enforce-eager = true
    [environment]    source = [shell files sourced first]
    [environment.vars]  NAME = "value" (strings only)
    [variants.NAME]  description, flags = {…} (false removes a flag), env = {…}
    [stages]         python; [stages.bench.latency|concurrency|serve]; [stages.precision]
                     (+ .thresholds); [stages.dequant]; [stages.evidence]
    [playground]     mode, system, presets, max_tokens, temperature, top_p

Validation is strict (unknown keys with a did-you-mean, types, ranges, required
keys, variant names, variable names) and every error names the file, the line
and the dotted key: `profiles/x.toml:12: server.port: expected an integer
1-65535, got the string '8000'`.
"""

from __future__ import annotations

from tui.profile.model import (
    DEFAULT_PRECISION_PROMPTS,
    MODEL_SOURCES,
    RUNTIMES,
    BenchSettings,
    ConcurrencyBench,
    DequantSettings,
    EnvironmentSpec,
    EvidenceSettings,
    FlagValue,
    LatencyBench,
    ModelSource,
    ModelSpec,
    PlaygroundSettings,
    PrecisionSettings,
    PrecisionThresholds,
    Profile,
    ProfileError,
    Runtime,
    ServeBench,
    ServerSpec,
    StageSettings,
    TextMode,
    Variant,
    expand_env,
    expand_value,
)
from tui.profile.store import (
    ProfileEntry,
    discover_profiles,
    dumps_profile,
    load_profile,
    loads_profile,
    profile_search_dirs,
    profile_summary,
    profile_to_dict,
    resolve_profile,
    save_profile,
    shipped_profiles_dir,
)

__all__ = [
    "DEFAULT_PRECISION_PROMPTS",
    "MODEL_SOURCES",
    "RUNTIMES",
    "BenchSettings",
    "ConcurrencyBench",
    "DequantSettings",
    "EnvironmentSpec",
    "EvidenceSettings",
    "FlagValue",
    "LatencyBench",
    "ModelSource",
    "ModelSpec",
    "PlaygroundSettings",
    "PrecisionSettings",
    "PrecisionThresholds",
    "Profile",
    "ProfileEntry",
    "ProfileError",
    "Runtime",
    "ServeBench",
    "ServerSpec",
    "StageSettings",
    "TextMode",
    "Variant",
    "discover_profiles",
    "dumps_profile",
    "expand_env",
    "expand_value",
    "load_profile",
    "loads_profile",
    "profile_search_dirs",
    "profile_summary",
    "profile_to_dict",
    "resolve_profile",
    "save_profile",
    "shipped_profiles_dir",
]
