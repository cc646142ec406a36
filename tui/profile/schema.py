"""What a profile file may say, written down once as data, and the one checker that enforces it.

Each TOML table is a `TableSpec`: its dataclass and, for each key, a `Kind`
(from `tui.profile.kinds`) that checks and converts the value. The same
description drives loading (check, convert, locate errors), dumping (back to
plain TOML-ready dicts, defaults left out) and the list of known keys shown when
a key is misspelt. Adding a setting is one line here plus the dataclass field.

The checks are strict because a profile is a launch recipe: a typo that is
silently ignored (`prot = 8001`) is a server on the wrong port an hour later.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from tui.profile.kinds import (
    ENV_NAME,
    ENV_NAME_EXPECTED,
    NAME,
    NAME_CHARS,
    STRING,
    STRINGS,
    Array,
    At,
    Bool,
    EnvVars,
    Flags,
    Float,
    Int,
    Kind,
    Source,
    Str,
    describe,
)
from tui.profile.model import (
    MODEL_SOURCES,
    RUNTIMES,
    AccuracySettings,
    BenchSettings,
    ConcurrencyBench,
    DequantSettings,
    EnvironmentSpec,
    EvidenceSettings,
    LatencyBench,
    ModelSpec,
    PlaygroundSettings,
    PrecisionSettings,
    PrecisionThresholds,
    Profile,
    ProfileError,
    ServeBench,
    ServerSpec,
    StageSettings,
    Variant,
    did_you_mean,
    unknown_variant_message,
)

# Every error in one run ------------------------------------------------------------------
#
# `validate` after an edit with three typos names all three: while a profile is built,
# each key's error is recorded and the check goes on with the next key. A table with a
# recorded error is not built (its parent goes on without it), and the whole build ends
# with `CombinedProfileError` listing them in file order.

_FOUND: ContextVar[list[ProfileError] | None] = ContextVar("profile_errors", default=None)


class _RecordedError(ProfileError):
    """A table whose own errors are already recorded: its parent skips it and goes on."""


class CombinedProfileError(ProfileError):
    """Several located errors of one profile; `str()` is one `<file>:<line>: <key>: <message>` line each."""

    def __init__(self, errors: list[ProfileError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, path=first.path, line=first.line, key=first.key)

    def __str__(self) -> str:
        if not getattr(self, "errors", None):
            return super().__str__()
        return "\n".join(ProfileError.__str__(error) for error in self.errors)


def _record(error: ProfileError) -> None:
    """Keep `error` for the list when collecting (raise it when not); a `_RecordedError` is already kept."""
    found = _FOUND.get()
    if found is None:
        raise error
    if not isinstance(error, _RecordedError):
        found.append(error)


def _recorded_since(before: int) -> bool:
    found = _FOUND.get()
    return found is not None and len(found) > before


def _count() -> int:
    found = _FOUND.get()
    return len(found) if found is not None else 0


class Table(Kind):
    """A sub-table described by its own spec."""

    expected = "a table"

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec

    def check(self, value: Any, at: At) -> Any:
        if not isinstance(value, dict):
            raise self.wrong(value, at)
        return self.spec.build(value, at)

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        return self.spec.dump(value, include_defaults)


class Variants(Kind):
    """[variants.<name>] tables; the table key becomes the variant's name."""

    expected = "a table of variants, e.g. [variants.eager]"

    def check(self, value: Any, at: At) -> dict[str, Variant]:
        if not isinstance(value, dict):
            raise self.wrong(value, at)
        out: dict[str, Variant] = {}
        before = _count()
        for name, item in value.items():
            where = at.child(name)
            try:
                if not NAME.match(name):
                    raise where.error(f"expected a variant name of {NAME_CHARS}, got {name!r}")
                if not isinstance(item, dict):
                    raise where.error(f"expected a table (description, flags, env), got {describe(item)}")
                out[name] = VARIANT.build(item, where, name=name)
            except ProfileError as error:
                _record(error)
        if _recorded_since(before):
            raise _RecordedError("variants with errors")
        return out

    def dump(self, value: Any, include_defaults: bool = False) -> Any:
        return {name: VARIANT.dump(variant, include_defaults) for name, variant in value.items()}


# Tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One key of a table: its kind, whether it must be given, and whether dumps always write it."""

    key: str
    kind: Kind
    required: bool = False
    always: bool = False
    missing: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One TOML table: its keys, the dataclass they fill, and an optional rule across keys."""

    cls: type
    fields: tuple[Field, ...]
    rule: Callable[[dict[str, Any], At], None] | None = None
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    flag_hint: str = ""

    def values(self, data: Mapping[str, Any], at: At) -> dict[str, Any]:
        """Checked and converted values of the keys present; absent keys keep the dataclass defaults."""
        known = {item.key: item for item in self.fields}
        values: dict[str, Any] = {}
        before = _count()
        failed: set[str] = set()
        for key, raw in data.items():
            spec = known.get(key)
            try:
                if spec is None:
                    raise at.child(key).error(self._unknown_key(key))
                values[key] = spec.kind.check(raw, at.child(key))
            except ProfileError as error:
                failed.add(key)
                _record(error)
        for item in self.fields:
            if item.required and item.key not in values and item.key not in failed:
                extra = f" ({item.missing})" if item.missing else ""
                _record(at.child(item.key).error(f"missing required key '{item.key}'{extra}"))
        if _recorded_since(before):
            raise _RecordedError("a table with errors")
        if self.rule is not None:
            self.rule(values, at)
        return values

    def build(self, data: Mapping[str, Any], at: At, **fixed: Any) -> Any:
        return self.cls(**fixed, **self.values(data, at))

    def dump(self, obj: Any, include_defaults: bool = False) -> dict[str, Any]:
        """Plain TOML-ready values; None is left out, and so are defaults unless asked for.

        Leaving defaults out keeps a saved profile to what the operator chose, so a
        better default in a later version reaches profiles that never set the value.
        """
        defaults = _defaults(self.cls)
        out: dict[str, Any] = {}
        for item in self.fields:
            value = getattr(obj, item.key)
            if value is None:
                continue
            keep = include_defaults or item.always
            if not keep and item.key in defaults and value == defaults[item.key]:
                continue
            dumped = item.kind.dump(value, include_defaults)
            if not keep and isinstance(dumped, dict) and not dumped:
                continue
            out[item.key] = dumped
        return out

    def _unknown_key(self, key: str) -> str:
        names = [item.key for item in self.fields]
        known = f"Known keys: {', '.join(names)}"
        target = self.aliases.get(key) or did_you_mean(key, names)
        if target:
            return f"unknown key '{key}'; did you mean '{target}'? {known}"
        if self.flag_hint and "-" in key:
            return f"unknown key '{key}'; {self.flag_hint}. {known}"
        return f"unknown key '{key}'. {known}"


@functools.cache
def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            out[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            out[item.name] = item.default_factory()
    return out


def _model_rule(values: dict[str, Any], at: At) -> None:
    if values.get("source") == "local" and not values.get("path"):
        raise at.child("path").error(
            "missing required key 'path' (model.source is 'local', so give the folder that holds the weights)"
        )


def _dequant_rule(values: dict[str, Any], at: At) -> None:
    source, destination = values.get("source"), values.get("destination")
    if source and destination and source.rstrip("/") == destination.rstrip("/"):
        raise at.child("destination").error("expected a folder other than stages.dequant.source")


def _profile_rule(values: dict[str, Any], at: At) -> None:
    default = values.get("default_variant")
    if default is not None and default not in values.get("variants", {}):
        raise at.child("default_variant").error(unknown_variant_message(default, values.get("variants", {})))


_COMMAND_EXAMPLE = ', e.g. ["vllm", "serve"]'
TEXT_MODE = Str(choices=("chat", "completion"))
PERCENT = Float(0, 1)
COUNT = Int(1)

MODEL = TableSpec(
    ModelSpec,
    (
        Field("id", STRING, required=True, always=True),
        Field("source", Str(choices=MODEL_SOURCES), always=True),
        Field("path", STRING),
        Field("revision", STRING),
    ),
    rule=_model_rule,
    aliases={"name": "id", "model": "id", "model_id": "id"},
)

SERVER = TableSpec(
    ServerSpec,
    (
        Field("command", Array(STRING, "strings", nonempty=True, example=_COMMAND_EXAMPLE), always=True),
        Field("model_flag", Str(pattern=re.compile(r"^-"), expected="an option such as '--model'")),
        Field("host", STRING, always=True),
        Field("port", Int(1, 65535), always=True),
        Field("served_model_name", STRING),
        Field("api_key_env", Str(pattern=ENV_NAME, expected=ENV_NAME_EXPECTED)),
        Field("flags", Flags()),
        Field("extra_args", STRINGS),
    ),
    aliases={"args": "extra_args", "env": "environment.vars", "api_key": "api_key_env"},
    flag_hint="vLLM flags go in the [server.flags] table",
)

ENVIRONMENT = TableSpec(
    EnvironmentSpec,
    (Field("vars", EnvVars()), Field("source", STRINGS)),
    aliases={"env": "vars", "variables": "vars"},
)

VARIANT = TableSpec(
    Variant,
    (
        Field("description", Str(allow_empty=True)), Field("flags", Flags()), Field("env", EnvVars()),
        Field("command", Array(STRING, "strings", example=_COMMAND_EXAMPLE)),
        Field("model_flag", Str(pattern=re.compile(r"^-"), expected="an option such as '--model'")),
    ),
    aliases={"vars": "env", "environment": "env"},
    flag_hint="a variant's vLLM flags go in its flags table, e.g. flags = { enforce-eager = true }",
)

LATENCY = TableSpec(
    LatencyBench, (Field("runs", COUNT), Field("max_tokens", COUNT), Field("prompt", STRING))
)

CONCURRENCY = TableSpec(
    ConcurrencyBench,
    (
        Field("requests", COUNT),
        Field("concurrency", COUNT),
        Field("max_tokens", COUNT),
        Field("prompt", STRING),
    ),
)

SERVE = TableSpec(
    ServeBench,
    (
        Field("num_prompts", COUNT),
        Field("random_input_len", COUNT),
        Field("random_output_len", COUNT),
        Field("request_rate", Float(0, lo_open=True, allow_inf=True)),
        Field("burstiness", Float(0, lo_open=True)),
        Field("max_concurrency", COUNT),
        Field("endpoint", Str(choices=("completions", "chat"))),
        Field("ignore_eos", Bool()),
        Field("warmup", Int(0)),
        Field("percentiles", Array(Float(0, 100, lo_open=True), "numbers > 0 and <= 100")),
    ),
)

BENCH = TableSpec(
    BenchSettings,
    (
        Field("latency", Table(LATENCY)),
        Field("concurrency", Table(CONCURRENCY)),
        Field("serve", Table(SERVE)),
    ),
)

THRESHOLDS = TableSpec(
    PrecisionThresholds,
    (
        Field("top1_agreement_min", PERCENT),
        Field("top5_overlap_min", PERCENT),
        Field("cosine_min", Float(-1, 1)),
        Field("relative_error_max", Float(0)),
        Field("kl_max", Float(0)),
        Field("noise_floor_ratio_max", Float(0, lo_open=True)),
    ),
)

PRECISION = TableSpec(
    PrecisionSettings,
    (
        Field("device", Str(choices=("auto", "npu", "cuda", "cpu"))),
        Field("dtype", Str(choices=("bfloat16", "float16", "float32"))),
        Field("prompts", Array(STRING, "strings", nonempty=True)),
        Field("thresholds", Table(THRESHOLDS)),
    ),
)

DEQUANT = TableSpec(
    DequantSettings,
    (Field("source", STRING), Field("destination", STRING), Field("block_size", COUNT)),
    rule=_dequant_rule,
    aliases={"src": "source", "dst": "destination", "dest": "destination", "block": "block_size"},
)

EVIDENCE = TableSpec(
    EvidenceSettings, (Field("mode", TEXT_MODE), Field("prompts", STRINGS), Field("max_tokens", COUNT))
)

ACCURACY = TableSpec(
    AccuracySettings,
    (
        Field("dataset", Str(choices=("gsm8k",))),
        Field("limit", COUNT),
        Field("shots", Int(0, 16)),
        Field("grader", Str(choices=("aisbench", "lm-eval", "boxed"))),
        Field("mode", TEXT_MODE),
        Field("max_tokens", COUNT),
        Field("temperature", Float(0, 2)),
        Field("top_p", Float(0, 1, lo_open=True)),
        Field("concurrency", COUNT),
    ),
)

STAGES = TableSpec(
    StageSettings,
    (
        Field("python", STRING),
        Field("bench", Table(BENCH)),
        Field("precision", Table(PRECISION)),
        Field("dequant", Table(DEQUANT)),
        Field("evidence", Table(EVIDENCE)),
        Field("accuracy", Table(ACCURACY)),
    ),
)

PLAYGROUND = TableSpec(
    PlaygroundSettings,
    (
        Field("mode", TEXT_MODE),
        Field("system", STRING),
        Field("presets", STRINGS),
        Field("max_tokens", COUNT),
        Field("temperature", Float(0)),
        Field("top_p", Float(0, 1, lo_open=True)),
    ),
)

PROFILE = TableSpec(
    Profile,
    (
        Field("name", Str(pattern=NAME, expected=f"a profile name of {NAME_CHARS}"), always=True),
        Field("description", Str(allow_empty=True)),
        Field("runtime", Str(choices=RUNTIMES), always=True),
        Field("default_variant", STRING),
        Field("model", Table(MODEL), required=True, missing='a [model] table with at least id = "…"'),
        Field("server", Table(SERVER), always=True),
        Field("environment", Table(ENVIRONMENT)),
        Field("variants", Variants()),
        Field("stages", Table(STAGES)),
        Field("playground", Table(PLAYGROUND)),
    ),
    rule=_profile_rule,
    aliases={
        "env": "environment",
        "vars": "environment.vars",
        "flags": "server.flags",
        "variant": "variants",
        "port": "server.port",
        "host": "server.host",
        "bench": "stages.bench",
        "precision": "stages.precision",
        "dequant": "stages.dequant",
        "evidence": "stages.evidence",
        "accuracy": "stages.accuracy",
    },
)


def build_profile(data: Mapping[str, Any], source: Source) -> Profile:
    """A validated Profile from tomllib's dict; the name defaults to the file's stem.

    Every error is found in one pass: one raises `ProfileError`, several `CombinedProfileError`.
    """
    found: list[ProfileError] = []
    token = _FOUND.set(found)
    try:
        values = PROFILE.values(data, At(source))
    except ProfileError as error:
        _record(error)
    finally:
        _FOUND.reset(token)
    if len(found) == 1:
        raise found[0]
    if found:
        raise CombinedProfileError(sorted(found, key=lambda error: error.line if error.line is not None else 1 << 30))
    name = values.pop("name", None) or (source.path.stem if source.path is not None else "unnamed")
    profile: Profile = PROFILE.cls(name=name, path=source.path, **values)
    return profile


def dump_profile(profile: Profile, include_defaults: bool = False) -> dict[str, Any]:
    """The profile as plain TOML-ready data: what the operator chose, defaults left out unless asked."""
    return PROFILE.dump(profile, include_defaults)
