"""Every way a profile file can be wrong gives one located, exact message.

One fixture file per failure mode in tests/fixtures/profiles/bad/; each case
pins the line, the dotted key and the whole message, because those are what an
operator reads to fix the file.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.profiles.helpers import BAD
from tui.profile import ProfileError, load_profile, loads_profile

SERVER_KEYS = "command, model_flag, host, port, served_model_name, api_key_env, flags, extra_args"
TOP_KEYS = (
    "name, description, runtime, default_variant, model, server, environment, variants, stages, playground"
)
ENV_NAME = "an environment variable name (letters, digits and underscores, not starting with a digit)"

CASES: list[tuple[str, int | None, str | None, str]] = [
    ("unknown_top_level_key", 3, "runtim",
     f"unknown key 'runtim'; did you mean 'runtime'? Known keys: {TOP_KEYS}"),
    ("unknown_nested_key", 7, "server.prot",
     f"unknown key 'prot'; did you mean 'port'? Known keys: {SERVER_KEYS}"),
    ("top_level_alias", 5, "env",
     f"unknown key 'env'; did you mean 'environment'? Known keys: {TOP_KEYS}"),
    ("flag_in_server_table", 7, "server.max-model-len",
     f"unknown key 'max-model-len'; vLLM flags go in the [server.flags] table. Known keys: {SERVER_KEYS}"),
    ("variant_flag_outside_flags", 7, "variants.eager.enforce-eager",
     "unknown key 'enforce-eager'; a variant's vLLM flags go in its flags table, "
     "e.g. flags = { enforce-eager = true }. Known keys: description, flags, env, command, model_flag"),
    ("port_as_string", 6, "server.port", "expected an integer 1-65535, got the string '8000'"),
    ("port_out_of_range", 6, "server.port", "expected an integer 1-65535, got the integer 70000"),
    ("dotted_key_wrong_type", 2, "server.port", "expected an integer 1-65535, got the string '8000'"),
    ("bool_where_int", 6, "stages.bench.latency.runs", "expected an integer >= 1, got the boolean true"),
    ("float_where_int", 7, "playground.max_tokens", "expected an integer >= 1, got the float 512.0"),
    ("quoted_bool", 6, "stages.bench.serve.ignore_eos",
     "expected true or false without quotes, got the string 'true'"),
    ("missing_model_id", 4, "model.id", "missing required key 'id'"),
    ("missing_model_table", None, "model",
     "missing required key 'model' (a [model] table with at least id = \"…\")"),
    ("local_without_path", 2, "model.path",
     "missing required key 'path' (model.source is 'local', so give the folder that holds the weights)"),
    ("bad_source_enum", 4, "model.source",
     "expected one of 'modelscope', 'huggingface', 'local', got the string 'hf'"),
    ("bad_runtime_enum", 2, "runtime",
     "expected one of 'vllm-ascend', 'vllm', 'vllm-cpu', 'vllm-mindspore', 'simulated', got the string 'ascend'; "
     "did you mean 'vllm-ascend'?"),
    ("bad_default_variant", 2, "default_variant",
     "no variant named 'grpah'; did you mean 'graph'? Variants: eager, graph"),
    ("env_value_not_string", 7, "environment.vars.TASK_QUEUE_ENABLE",
     'expected a string, got the integer 1; environment values are text, so write TASK_QUEUE_ENABLE = "1"'),
    ("env_var_bad_name", 6, "environment.vars.MY-VAR", f"expected {ENV_NAME}, got 'MY-VAR'"),
    ("variant_env_inline", 7, "variants.eager.env.OMP_NUM_THREADS",
     'expected a string, got the integer 1; environment values are text, so write OMP_NUM_THREADS = "1"'),
    ("flag_array_nested_table", 9, "server.flags.lora-modules[1]",
     "expected a string or a number in a flag's array, got a table"),
    ("flag_table_datetime", 6, "server.flags.compilation-config.since",
     "expected a JSON value (string, number, boolean, array or table) inside a flag's table, "
     "got the date 2025-07-01"),
    ("flag_leading_dashes", 6, "server.flags.--max-model-len",
     "write flag names without the leading dashes, e.g. 'max-model-len'"),
    ("flag_underscores", 6, "server.flags.max_model_len",
     "vLLM flag names use dashes, as its --help prints them: write 'max-model-len'"),
    ("flag_bad_name", 6, 'server.flags."enforce eager"',
     "expected a flag name of letters, digits, '-' and '.', got 'enforce eager'"),
    ("flag_reserved_port", 6, "server.flags.port", "set the port with server.port, not as a flag"),
    ("prompt_item_wrong_type", 9, "stages.precision.prompts[2]",
     "expected a non-empty string, got the integer 42"),
    ("percentile_out_of_range", 6, "stages.bench.serve.percentiles[1]",
     "expected a number > 0 and <= 100, got the integer 0"),
    ("threshold_nan", 6, "stages.precision.thresholds.cosine_min",
     "expected a number between -1 and 1, got the float nan"),
    ("empty_command", 6, "server.command",
     'expected a non-empty array of strings, e.g. ["vllm", "serve"], got an empty array'),
    ("table_as_scalar", 2, "server", "expected a table, got the string 'vllm serve'"),
    ("dequant_same_folder", 7, "stages.dequant.destination",
     "expected a folder other than stages.dequant.source"),
    ("syntax_error", 6, None,
     "invalid TOML: Expected newline or end of document after a statement (column 11)"),
    ("duplicate_key", 4, None, "invalid TOML: Cannot overwrite a value (column 23)"),
    ("unterminated_array", 6, None, "invalid TOML: Invalid value at the end of the file"),
]


@pytest.mark.parametrize(("stem", "line", "key", "message"), CASES, ids=[case[0] for case in CASES])
def test_bad_profile_is_located_exactly(stem: str, line: int | None, key: str | None, message: str) -> None:
    path = BAD / f"{stem}.toml"
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.line, error.key, error.message) == (line, key, message)
    assert error.path == path
    located = f"{path}:{line}" if line is not None else str(path)
    assert str(error) == ": ".join(part for part in (located, key, message) if part)


def test_every_bad_fixture_has_a_case() -> None:
    assert sorted(path.stem for path in BAD.glob("*.toml")) == sorted(case[0] for case in CASES)


def test_error_without_a_file_says_line() -> None:
    with pytest.raises(ProfileError) as caught:
        loads_profile('[model]\nid = "x"\n[server]\nport = "80"\n')
    assert str(caught.value) == "line 4: server.port: expected an integer 1-65535, got the string '80'"
    assert caught.value.path is None


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError) as caught:
        load_profile(missing)
    assert caught.value.path == missing
    assert caught.value.message == "cannot read the profile: No such file or directory"
    assert str(caught.value) == f"{missing}: cannot read the profile: No such file or directory"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path)
    assert caught.value.message == "cannot read the profile: Is a directory"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[model]\nid = "caf\xe9"\n')
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert (caught.value.line, caught.value.message) == (2, "expected UTF-8 text, got the byte 0xe9")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[model]\nid = "Qwen/Qwen2-0.5B"\n')
    assert load_profile(path).model.id == "Qwen/Qwen2-0.5B"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[model]\nid = "x"\n[server]\nhost = ""\n', "server.host",
         "expected a non-empty string, got an empty string"),
        ('[model]\nid = "x"\n[server]\nmodel_flag = "model"\n', "server.model_flag",
         "expected an option such as '--model', got the string 'model'"),
        ('[model]\nid = "x"\n[server]\napi_key_env = "my key"\n', "server.api_key_env",
         f"expected {ENV_NAME}, got the string 'my key'"),
        ('[model]\nid = "x"\n[server.flags]\napi-key = "secret"\n', "server.flags.api-key",
         "keep the key out of the profile: put it in an environment variable and name that variable "
         "with server.api_key_env"),
        ('[model]\nid = "x"\n[server.flags]\ncuda-graph-sizes = []\n', "server.flags.cuda-graph-sizes",
         "expected at least one value in the array; set the flag to false to leave it out"),
        ('[model]\nid = "x"\n[server.flags]\nscale = inf\n', "server.flags.scale",
         "expected a finite number, got the float inf"),
        ('[model]\nid = "x"\n[server.flags]\nstarted = 2025-01-01T10:00:00\n', "server.flags.started",
         "expected a string, number, boolean, array or table, got the date-time 2025-01-01T10:00:00"),
        ('[model]\nid = "x"\n[stages.bench.serve]\nrequest_rate = 0\n', "stages.bench.serve.request_rate",
         "expected a number > 0, or inf, got the integer 0"),
        ('[model]\nid = "x"\n[stages.bench.serve]\nrequest_rate = "fast"\n',
         "stages.bench.serve.request_rate",
         "expected a number > 0, or inf, got the string 'fast'"),
        ('[model]\nid = "x"\n[playground]\ntemperature = -1\n', "playground.temperature",
         "expected a number >= 0, got the integer -1"),
        ('[model]\nid = "x"\n[playground]\nmode = "chats"\n', "playground.mode",
         "expected one of 'chat', 'completion', got the string 'chats'; did you mean 'chat'?"),
        ('name = "has space"\n[model]\nid = "x"\n', "name",
         "expected a profile name of letters, digits, '.', '_', '+' and '-', got the string 'has space'"),
        ('[model]\nid = "x"\n[variants."a b"]\n', 'variants."a b"',
         "expected a variant name of letters, digits, '.', '_', '+' and '-', got 'a b'"),
        ('[model]\nid = "x"\n[variants]\neager = true\n', "variants.eager",
         "expected a table (description, flags, env), got the boolean true"),
        ('default_variant = "x"\n[model]\nid = "x"\n', "default_variant",
         "no variant named 'x': the profile defines no variants"),
    ],
)
def test_more_messages(text: str, key: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        loads_profile(text)
    assert (caught.value.key, caught.value.message) == (key, message)


def test_error_survives_pickling() -> None:
    error = ProfileError("expected x", path="a.toml", line=3, key="server.port")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.key, copy.message) == (Path("a.toml"), 3, "server.port", "expected x")
    assert str(copy) == "a.toml:3: server.port: expected x"
