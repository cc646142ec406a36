"""The Profile's derived values: URL, model reference, variants laid over flags and environment."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from tui.profile import (
    DEFAULT_PRECISION_PROMPTS,
    ModelSpec,
    Profile,
    ProfileError,
    ServerSpec,
    Variant,
    expand_env,
    expand_value,
    loads_profile,
)

PROFILE = """
default_variant = "graph"

[model]
id = "Qwen/Qwen2.5-Coder-0.5B-Instruct"

[server.flags]
dtype = "bfloat16"
max-model-len = 32768
enforce-eager = true
max-num-seqs = 16

[environment.vars]
TASK_QUEUE_ENABLE = "1"
ASCEND_RT_VISIBLE_DEVICES = "0"

[variants.dummy]
flags = { load-format = "dummy" }
env = { ASCEND_RT_VISIBLE_DEVICES = "3", EXTRA = "yes" }

[variants.graph]
description = "no --enforce-eager"
flags = { enforce-eager = false, max-model-len = 4096 }
"""


def assign(target: object, attribute: str, value: object) -> None:
    setattr(target, attribute, value)


@pytest.fixture
def profile() -> Profile:
    return loads_profile(PROFILE, "coder.toml")


def test_name_defaults_to_file_stem(profile: Profile) -> None:
    assert profile.name == "coder"
    assert profile.path == Path("coder.toml")
    assert loads_profile('[model]\nid = "x"\n').name == "unnamed"
    assert loads_profile('name = "n"\n[model]\nid = "x"\n', "other.toml").name == "n"


def test_defaults(profile: Profile) -> None:
    assert profile.runtime == "vllm-ascend"
    assert profile.model.source == "modelscope"
    assert profile.server.command == ("vllm", "serve")
    assert profile.server.model_flag is None
    assert (profile.server.host, profile.server.port) == ("127.0.0.1", 8000)
    serve = profile.stages.bench.serve
    assert math.isinf(serve.request_rate)
    assert serve.percentiles == (50.0, 90.0, 99.0)
    assert profile.stages.precision.prompts == DEFAULT_PRECISION_PROMPTS
    assert DEFAULT_PRECISION_PROMPTS[2] == "def hello(name):\n    return"
    assert profile.stages.precision.thresholds.relative_error_max is None
    assert profile.stages.dequant.block_size is None
    assert profile.playground.mode == "chat"


def test_values_are_frozen(profile: Profile) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        assign(profile, "name", "other")
    with pytest.raises(dataclasses.FrozenInstanceError):
        assign(profile.server, "port", 1)


def test_int_accepted_for_float_and_inf_string() -> None:
    profile = loads_profile(
        '[model]\nid = "x"\n[playground]\ntemperature = 1\n[stages.bench.serve]\nrequest_rate = "inf"\n'
    )
    assert profile.playground.temperature == 1.0
    assert isinstance(profile.playground.temperature, float)
    assert math.isinf(profile.stages.bench.serve.request_rate)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://127.0.0.1:8000"),
        ("::1", "http://[::1]:8000"),
        ("npu-host-3", "http://npu-host-3:8000"),
    ],
)
def test_base_url(host: str, url: str) -> None:
    profile = Profile(name="p", model=ModelSpec(id="x"), server=ServerSpec(host=host))
    assert profile.base_url == url


def test_model_ref_prefers_path() -> None:
    assert Profile(name="p", model=ModelSpec(id="Qwen/Q")).model_ref == "Qwen/Q"
    local = Profile(name="p", model=ModelSpec(id="Qwen/Q", source="local", path="${HOME}/m"))
    assert local.model_ref == "${HOME}/m"


def test_variant_lookup(profile: Profile) -> None:
    assert profile.variant(None) is None
    graph = profile.variant("graph")
    assert isinstance(graph, Variant)
    assert graph.name == "graph"
    assert graph.description == "no --enforce-eager"
    with pytest.raises(ProfileError) as caught:
        profile.variant("grpah")
    assert caught.value.message == "no variant named 'grpah'; did you mean 'graph'? Variants: dummy, graph"
    assert caught.value.path == Path("coder.toml")


def test_effective_flags(profile: Profile) -> None:
    base = {"dtype": "bfloat16", "max-model-len": 32768, "enforce-eager": True, "max-num-seqs": 16}
    assert profile.effective_flags(None) == base
    assert profile.effective_flags() == base
    # False removes the flag; an override keeps its place; the base flags stay untouched.
    graph = profile.effective_flags(profile.variant("graph"))
    assert graph == {"dtype": "bfloat16", "max-model-len": 4096, "max-num-seqs": 16}
    assert list(graph) == ["dtype", "max-model-len", "max-num-seqs"]
    assert profile.effective_flags("dummy") == {**base, "load-format": "dummy"}
    assert profile.server.flags["enforce-eager"] is True


def test_false_in_base_flags_means_absent() -> None:
    profile = loads_profile('[model]\nid = "x"\n[server.flags]\nenforce-eager = false\ndtype = "auto"\n')
    assert profile.effective_flags() == {"dtype": "auto"}


def test_effective_flags_is_a_copy(profile: Profile) -> None:
    nested = loads_profile('[model]\nid = "x"\n[server.flags]\ncc = { a = [1] }\n')
    table = nested.effective_flags()["cc"]
    assert isinstance(table, dict)
    table["a"].append(2)
    assert nested.server.flags["cc"] == {"a": [1]}


def test_effective_env(profile: Profile) -> None:
    assert profile.effective_env() == {"TASK_QUEUE_ENABLE": "1", "ASCEND_RT_VISIBLE_DEVICES": "0"}
    assert profile.effective_env("dummy") == {
        "TASK_QUEUE_ENABLE": "1", "ASCEND_RT_VISIBLE_DEVICES": "3", "EXTRA": "yes",
    }
    assert profile.effective_env(profile.variant("graph")) == profile.effective_env()


def test_path_takes_no_part_in_equality(profile: Profile) -> None:
    assert dataclasses.replace(profile, path=Path("/elsewhere.toml")) == profile


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("${SIM}/models/q", "/sim/models/q"),
        ("$SIM/models", "/sim/models"),
        ("~/models", "/home/op/models"),
        ("~", "/home/op"),
        ("${UNSET}/x", "${UNSET}/x"),
        ("$UNSET", "$UNSET"),
        ("${UNSET:-/fallback}/x", "/fallback/x"),
        ("${EMPTY:-/fallback}", "/fallback"),
        ("${SIM:-/fallback}", "/sim"),
        ("expandable_segments:True", "expandable_segments:True"),
        ("a~b", "a~b"),
        ("price $5", "price $5"),
    ],
)
def test_expand_value(raw: str, expected: str) -> None:
    env = {"SIM": "/sim", "HOME": "/home/op", "EMPTY": ""}
    assert expand_value(raw, env) == expected


def test_expand_env_sees_earlier_values() -> None:
    values = {"MODELSCOPE_CACHE": "$HOME/.cache/ms", "MODEL_DIR": "${MODELSCOPE_CACHE}/models"}
    assert expand_env(values, {"HOME": "/root"}) == {
        "MODELSCOPE_CACHE": "/root/.cache/ms", "MODEL_DIR": "/root/.cache/ms/models",
    }
