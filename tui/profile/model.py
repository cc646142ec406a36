"""The profile as typed, immutable values, and the one error type every profile problem becomes.

A profile says everything the console needs to bring one model up on one host:
what to serve, how to launch the server, which environment it needs, the
variants to compare (eager against graph mode, dummy weights as a fast gate),
and the settings of each stage. The values here are exactly what the TOML file
said, after validation: paths and environment values keep their raw text
(`${MODELSCOPE_CACHE}`, `~/models`) so that saving a profile writes back what
the operator wrote; `expand_value` is applied where a value is used.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

FlagValue: TypeAlias = str | int | float | bool | list[str | int | float] | dict[str, Any]
"""One vLLM flag's value: `True` is a bare flag, `False` leaves it out, a list repeats the
values after one flag (`nargs='+'`), a table is passed as compact JSON."""

Runtime = Literal["vllm-ascend", "vllm", "vllm-cpu", "vllm-mindspore", "simulated"]
ModelSource = Literal["modelscope", "huggingface", "local"]
TextMode = Literal["chat", "completion"]

RUNTIMES: tuple[str, ...] = ("vllm-ascend", "vllm", "vllm-cpu", "vllm-mindspore", "simulated")
MODEL_SOURCES: tuple[str, ...] = ("modelscope", "huggingface", "local")

DEFAULT_PRECISION_PROMPTS: tuple[str, ...] = (
    "The capital of France is",
    "The chemical symbol for water is",
    "def hello(name):\n    return",
    "中国的首都是",
    "2 + 3 × 4 =",
)
"""Short prompts across English facts, code, Chinese and arithmetic: the places where a
numerically broken kernel shows up first as a changed next token."""

DEFAULT_BENCH_PROMPT = "Explain in a few sentences what a neural processing unit is."

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


class ProfileError(Exception):
    """A profile that cannot be read or does not say what it must, located for the operator.

    `str()` reads `<file>:<line>: <key>: <message>` (parts that are unknown are left
    out), the form editors and terminals turn into a jump to the spot. `message`
    alone says what was expected and what was found.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.path: Path | None = Path(path) if path is not None else None
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else str(self.path))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep the located fields across pickling (worker processes, multiprocessing)."""
        return (_rebuild_error, (self.message, self.path, self.line, self.key))


def _rebuild_error(message: str, path: Path | None, line: int | None, key: str | None) -> ProfileError:
    return ProfileError(message, path=path, line=line, key=key)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of `choices` to a mistyped `word`, if one is close enough to suggest."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class ModelSpec:
    """What to serve: a hub id, and a local folder when the weights already sit on disk.

    `id` stays the model's public name even when `path` is what gets served, so the
    console can show and report the real model and not a cache folder.
    """

    id: str
    source: ModelSource = "modelscope"
    path: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class ServerSpec:
    """How the OpenAI-compatible server is started.

    `model_flag` is None for `vllm serve MODEL` (the model positional, right after
    the command) and e.g. `"--model"` for entry points such as vLLM-MindSpore's
    api_server. `flags` are vLLM's own option names without the dashes; host, port
    and the served model name have their own fields because the console needs them
    (to connect, to move a busy port) and never guesses them from flags.
    """

    command: tuple[str, ...] = ("vllm", "serve")
    model_flag: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    served_model_name: str | None = None
    api_key_env: str | None = None
    flags: Mapping[str, FlagValue] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvironmentSpec:
    """Variables laid over the inherited environment, and shell files sourced first.

    `source` exists because Ascend hosts need CANN's `set_env.sh` (and nnal/atb's) before
    anything NPU-related starts; forgetting them is the most common launch failure.
    """

    vars: Mapping[str, str] = field(default_factory=dict)
    source: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """A named overlay on the server flags and environment (eager, graph, dummy weights…).

    In `flags`, `False` removes a flag the base profile sets, so a variant can say
    "the same, without --enforce-eager".
    """

    name: str
    description: str = ""
    flags: Mapping[str, FlagValue] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # Another entry point for this variant (e.g. vLLM-MindSpore's legacy `python -m vllm_mindspore…`),
    # with the model option it takes; empty/None keep the server's own.
    command: tuple[str, ...] = ()
    model_flag: str | None = None


@dataclass(frozen=True)
class LatencyBench:
    """Sequential requests, one at a time: the latency an operator feels."""

    runs: int = 10
    max_tokens: int = 50
    prompt: str = DEFAULT_BENCH_PROMPT


@dataclass(frozen=True)
class ConcurrencyBench:
    """A fixed number of requests with a bounded number in flight: does it hold up under load."""

    requests: int = 50
    concurrency: int = 10
    max_tokens: int = 50
    prompt: str = DEFAULT_BENCH_PROMPT


@dataclass(frozen=True)
class ServeBench:
    """Settings named after `vllm bench serve` so numbers compare with upstream's own tool."""

    num_prompts: int = 32
    random_input_len: int = 128
    random_output_len: int = 128
    request_rate: float = math.inf
    burstiness: float = 1.0
    max_concurrency: int | None = None
    endpoint: Literal["completions", "chat"] = "completions"
    ignore_eos: bool = True
    warmup: int = 0
    percentiles: tuple[float, ...] = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class BenchSettings:
    """The three benchmarks, each with its own settings."""

    latency: LatencyBench = field(default_factory=LatencyBench)
    concurrency: ConcurrencyBench = field(default_factory=ConcurrencyBench)
    serve: ServeBench = field(default_factory=ServeBench)


@dataclass(frozen=True)
class PrecisionThresholds:
    """Where the NPU-versus-reference comparison turns from PASS to FAIL.

    `None` means "report it, but do not judge on it". `noise_floor_ratio_max` compares
    the candidate's error with the reference's own run-to-run noise.
    """

    top1_agreement_min: float = 0.95
    top5_overlap_min: float = 0.9
    cosine_min: float = 0.99
    relative_error_max: float | None = None
    kl_max: float | None = None
    noise_floor_ratio_max: float = 2.0


@dataclass(frozen=True)
class PrecisionSettings:
    """The candidate device and dtype for the precision check, its prompts and thresholds."""

    device: Literal["auto", "npu", "cuda", "cpu"] = "auto"
    dtype: str = "bfloat16"
    prompts: tuple[str, ...] = DEFAULT_PRECISION_PROMPTS
    thresholds: PrecisionThresholds = field(default_factory=PrecisionThresholds)


@dataclass(frozen=True)
class DequantSettings:
    """FP8 → BF16 dequantization: where the FP8 checkpoint is and where the BF16 copy goes.

    `block_size` None means "read it from config.json's quantization_config", which
    is right for every checkpoint seen so far; set it only to override a wrong file.
    """

    source: str | None = None
    destination: str | None = None
    block_size: int | None = None


@dataclass(frozen=True)
class EvidenceSettings:
    """The fixed prompts whose answers go into the verification report."""

    mode: TextMode = "chat"
    prompts: tuple[str, ...] = ()
    max_tokens: int = 128


@dataclass(frozen=True)
class AccuracySettings:
    """GSM8K as operators report it: the first 200 test problems, 4-shot chain of thought in chat form.

    `grader` is how a reply's answer is read (`aisbench`: the last number; `lm-eval`: `The answer is N`
    or `#### N`, else the last number; `boxed`: `\\boxed{N}` first); `top_p` None is not sent.
    """

    dataset: Literal["gsm8k"] = "gsm8k"
    limit: int = 200
    shots: int = 4
    grader: Literal["aisbench", "lm-eval", "boxed"] = "aisbench"
    mode: TextMode = "chat"
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float | None = None
    concurrency: int = 8


@dataclass(frozen=True)
class StageSettings:
    """Settings for the long jobs, and the interpreter that runs them.

    `python` is the serving environment's interpreter (where torch_npu lives), because
    the console itself often runs from a lighter environment; None runs stages with
    the console's own interpreter.
    """

    python: str | None = None
    bench: BenchSettings = field(default_factory=BenchSettings)
    precision: PrecisionSettings = field(default_factory=PrecisionSettings)
    dequant: DequantSettings = field(default_factory=DequantSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    accuracy: AccuracySettings = field(default_factory=AccuracySettings)


@dataclass(frozen=True)
class PlaygroundSettings:
    """How the playground starts: chat or raw completion, a system prompt, canned prompts."""

    mode: TextMode = "chat"
    system: str | None = None
    presets: tuple[str, ...] = ()
    max_tokens: int = 512
    temperature: float | None = None
    top_p: float | None = None


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One model on one runtime, as the operator verified it.

    Keyword-only so that adding a field never silently shifts a caller's arguments.
    `path` is where it was read from (None when built in code); it takes no part in
    equality, so the same profile saved elsewhere compares equal.
    """

    name: str
    path: Path | None = field(default=None, compare=False)
    description: str = ""
    runtime: Runtime = "vllm-ascend"
    model: ModelSpec
    server: ServerSpec = field(default_factory=ServerSpec)
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    stages: StageSettings = field(default_factory=StageSettings)
    playground: PlaygroundSettings = field(default_factory=PlaygroundSettings)
    variants: Mapping[str, Variant] = field(default_factory=dict)
    default_variant: str | None = None

    @property
    def base_url(self) -> str:
        """Where a client reaches the server: a wildcard bind address becomes loopback."""
        host = self.server.host.strip()
        if host in _WILDCARD_HOSTS:
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    @property
    def model_ref(self) -> str:
        """What the server is told to load: the local path when there is one, else the hub id.

        Raw text as written in the profile; pass it through `expand_value` before using
        it as a filesystem path.
        """
        return self.model.path if self.model.path else self.model.id

    def variant(self, name: str | None) -> Variant | None:
        """The variant called `name`; None for None; a ProfileError naming the choices otherwise."""
        if name is None:
            return None
        found = self.variants.get(name)
        if found is None:
            raise ProfileError(unknown_variant_message(name, self.variants), path=self.path)
        return found

    def effective_flags(self, variant: Variant | str | None = None) -> dict[str, FlagValue]:
        """The server flags with `variant` laid over them; flags set to False are left out.

        None means the base flags alone (not the default variant), so the caller says
        which variant it runs.
        """
        chosen = self.variant(variant) if isinstance(variant, str) else variant
        flags: dict[str, FlagValue] = dict(self.server.flags)
        if chosen is not None:
            for name, value in chosen.flags.items():
                if value is False:
                    flags.pop(name, None)
                else:
                    flags[name] = value
        return copy.deepcopy({name: value for name, value in flags.items() if value is not False})

    def effective_env(self, variant: Variant | str | None = None) -> dict[str, str]:
        """The profile's variables with `variant`'s laid over them, raw (not yet expanded)."""
        chosen = self.variant(variant) if isinstance(variant, str) else variant
        env = dict(self.environment.vars)
        if chosen is not None:
            env.update(chosen.env)
        return env


def unknown_variant_message(name: str, variants: Mapping[str, Variant]) -> str:
    """'no variant named …' with a suggestion and the list, shared by loading and lookup."""
    if not variants:
        return f"no variant named '{name}': the profile defines no variants"
    names = sorted(variants)
    hint = did_you_mean(name, names)
    suggestion = f"; did you mean '{hint}'?" if hint else "."
    return f"no variant named '{name}'{suggestion} Variants: {', '.join(names)}"


_VAR_REF = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def expand_value(value: str, env: Mapping[str, str]) -> str:
    """`~`, `$VAR`, `${VAR}` and `${VAR:-default}` expanded the way a shell would, from `env`.

    Profiles keep the raw text (so a save writes back what the operator wrote) and
    expand it only where a path or variable is used, against the environment the
    server will actually get. An unknown variable is left as written, so an error
    message shows `${NPU_CONSOLE_SIM_HOME}` rather than an empty string.
    """
    text = _expand_tilde(value, env)

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        default = match.group("default")
        current = env.get(name)
        if current is not None and (default is None or current != ""):
            return current
        if default is not None:
            return default
        return match.group(0)

    return _VAR_REF.sub(replace, text)


def expand_env(values: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """Expand each of `values` in order against `base` plus the ones already expanded.

    Order matters the way it does in a shell script: `MODELSCOPE_CACHE` set first can
    be referred to by a later variable.
    """
    scope = dict(base)
    out: dict[str, str] = {}
    for name, raw in values.items():
        out[name] = scope[name] = expand_value(raw, scope)
    return out


def _expand_tilde(value: str, env: Mapping[str, str]) -> str:
    if not value.startswith("~"):
        return value
    head, sep, rest = value.partition("/")
    if head == "~":
        home = env.get("HOME") or str(Path.home())
        return home + sep + rest
    return str(Path(value).expanduser())
