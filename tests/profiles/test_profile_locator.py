"""The key locator finds the line of each TOML key, in every form a profile may use."""

from __future__ import annotations

from tests.profiles.helpers import toml_loads
from tui.profile.locate import KeyLocator, syntax_error_position

TEXT = '''\
# comment with key = "value" and [fake.header]
name = "demo"                       # line 2
"quoted key" = 1
a.b.c = true

[server]                            # line 6
port = 8000
'host name' = "x"

[server.flags]                      # line 10
"max-model-len" = 4096
compilation-config = { cudagraph_mode = "FULL", nested = { deep = 1 } }
cuda-graph-sizes = [
    1,
    2,   # line 15
]

[stages.precision]                  # line 18
prompts = [
    """
[not.a.header]
fake = "key"
""",
    'literal = "also not a key"',   # line 24
    "escaped \\" quote = still a string",
]
after = 1                           # line 27

[[items]]                           # line 29
x = 1
[[items]]
y = 2
  [ spaced . "header" ]             # line 33
z = "\\u00e9"
"\\u00e9t\\u00e9" = 3
'''


def test_text_is_valid_toml() -> None:
    toml_loads(TEXT)


def test_lines_of_keys_in_every_form() -> None:
    lines = KeyLocator(TEXT).lines
    assert lines[("name",)] == 2
    assert lines[("quoted key",)] == 3
    assert lines[("a",)] == lines[("a", "b")] == lines[("a", "b", "c")] == 4
    assert lines[("server",)] == 6
    assert lines[("server", "port")] == 7
    assert lines[("server", "host name")] == 8
    assert lines[("server", "flags")] == 10
    assert lines[("server", "flags", "max-model-len")] == 11
    assert lines[("server", "flags", "compilation-config", "cudagraph_mode")] == 12
    assert lines[("server", "flags", "compilation-config", "nested", "deep")] == 12
    assert lines[("server", "flags", "cuda-graph-sizes")] == 13
    assert lines[("server", "flags", "cuda-graph-sizes", 0)] == 14
    assert lines[("server", "flags", "cuda-graph-sizes", 1)] == 15
    assert lines[("stages",)] == lines[("stages", "precision")] == 18
    assert lines[("stages", "precision", "prompts", 0)] == 20
    assert lines[("stages", "precision", "prompts", 1)] == 24
    assert lines[("stages", "precision", "prompts", 2)] == 25
    assert lines[("stages", "precision", "after")] == 27
    assert lines[("items",)] == 29
    assert lines[("spaced", "header")] == 33
    assert lines[("spaced", "header", "z")] == 34
    assert lines[("spaced", "header", "été")] == 35


def test_string_contents_are_never_keys() -> None:
    lines = KeyLocator(TEXT).lines
    assert ("not",) not in lines
    assert ("stages", "precision", "fake") not in lines
    assert ("stages", "precision", "literal") not in lines
    assert ("fake",) not in lines


def test_missing_key_falls_back_to_its_table() -> None:
    locator = KeyLocator(TEXT)
    assert locator.line_of(("server", "host")) == 6
    assert locator.line_of(("server", "flags", "enforce-eager")) == 10
    assert locator.line_of(("model", "id")) is None


def test_first_definition_wins() -> None:
    locator = KeyLocator("[a]\nx = 1\n[a.b]\ny = 2\n[a]\n")
    assert locator.line_of(("a",)) == 1


def test_crlf_line_endings() -> None:
    locator = KeyLocator('[model]\r\nid = "x"\r\n\r\n[server]\r\nport = 1\r\n')
    assert locator.line_of(("server", "port")) == 5


def test_unexpected_text_keeps_what_was_found() -> None:
    locator = KeyLocator('a = 1\nb = { , }\nc = 3\n')
    assert locator.line_of(("a",)) == 1
    assert locator.line_of(("c",)) is None


def test_last_line() -> None:
    assert KeyLocator("a = 1\nb = [\n").last_line == 2
    assert KeyLocator("a = 1\nb = [").last_line == 2
    assert KeyLocator("").last_line == 1


def test_syntax_error_position() -> None:
    assert syntax_error_position("Invalid value (at line 3, column 7)", 9) == ("Invalid value", 3, 7)
    assert syntax_error_position("Invalid value (at end of document)", 9) == (
        "Invalid value at the end of the file", 9, None)
    assert syntax_error_position("Something else", 9) == ("Something else", None, None)
