"""Issue 14 finding 1 (the secrets half): nothing that looks like a key or token survives `redact`."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tui.failures import ConsoleLog, failure_sentence
from tui.redact import MASK, Redactor, is_secret_name, redact, redact_env

ENV = {"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx", "OPENAI_API_KEY": "sk-1234567890abcdefghij",
       "DB_PASSWORD": "correct horse battery", "PATH": "/usr/bin:/bin", "PWD": "/home/op/work"}


def test_named_secrets_are_masked_and_ordinary_words_are_not() -> None:
    cases = {
        "HF_TOKEN=hf_abcdefghijklmnopqrstuvwx next": f"HF_TOKEN={MASK} next",
        "{'OPENAI_API_KEY': 'sk-1234567890abcdefghij', 'PATH': '/usr/bin:/bin'}":
            f"{{'OPENAI_API_KEY': '{MASK}', 'PATH': '/usr/bin:/bin'}}",
        '"api_key": "s3cr3t-value", "max_tokens": 128': f'"api_key": "{MASK}", "max_tokens": 128',
        "Authorization: Bearer abcdefghijkl": f"Authorization: Bearer {MASK}",
        "vllm serve m --api-key abc123456 --port 8000": f"vllm serve m --api-key {MASK} --port 8000",
        "https://op:pw123@mirror/simple": f"https://op:{MASK}@mirror/simple",
        "max_num_batched_tokens=8192 KEYMAP=us monkey=3": "max_num_batched_tokens=8192 KEYMAP=us monkey=3",
    }
    for text, expected in cases.items():
        assert redact(text, ENV) == expected


def test_secret_values_are_masked_wherever_they_appear() -> None:
    text = "argv ['x', 'correct horse battery'] in /home/op/work with hf_abcdefghijklmnopqrstuvwx"
    assert redact(text, ENV) == f"argv ['x', '{MASK}'] in /home/op/work with {MASK}"


def test_redact_env_masks_values_by_name() -> None:
    masked = redact_env(ENV)
    assert masked["HF_TOKEN"] == masked["OPENAI_API_KEY"] == masked["DB_PASSWORD"] == MASK
    assert masked["PATH"] == ENV["PATH"] and masked["PWD"] == ENV["PWD"]
    assert not is_secret_name("SSH_AUTH_SOCK") and is_secret_name("AWS_SECRET_ACCESS_KEY")


def test_failure_detail_in_the_console_log_is_redacted(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_TOKEN", ENV["HF_TOKEN"])

    def leaky(env: dict[str, str]) -> None:
        raise RuntimeError(f"boom with {env}")

    try:
        leaky(dict(ENV))
    except RuntimeError as error:
        sentence = failure_sentence(error, "The launch")
        path = ConsoleLog(tmp_path / "fallback").record(tmp_path, sentence, error)
    assert path == tmp_path / "console.log"
    text = (tmp_path / "console.log").read_text()
    assert "Traceback" in text and "leaky" in text
    for secret in ("hf_abcdefghijklmnopqrstuvwx", "sk-1234567890abcdefghij"):
        assert secret not in text and secret not in sentence
    assert sentence.startswith("The launch failed: RuntimeError: boom with")


def test_the_launch_script_on_screen_shows_no_secret() -> None:
    """A key a profile sets in [environment.vars] is masked where the Server area shows the launch script."""
    from tui.profile import loads_profile
    from tui.server.launch_plan import launch_plan
    from widgets.server_view import launch_text

    profile = loads_profile('name = "t"\n[model]\nid = "m"\nsource = "local"\npath = "/m"\n'
                            '[server]\ncommand = ["vllm", "serve"]\n'
                            f'[environment.vars]\nOPENAI_API_KEY = "{ENV["OPENAI_API_KEY"]}"\n'
                            f'DB_PASSWORD = "{ENV["DB_PASSWORD"]}"\n')
    shown = launch_text(launch_plan(profile, None, {})).plain
    assert "export OPENAI_API_KEY=***" in shown and "export DB_PASSWORD='***'" in shown
    assert ENV["OPENAI_API_KEY"] not in shown and ENV["DB_PASSWORD"] not in shown


_PIECES = ["HF_TOKEN", "api_key", "X-Api-Key", "--api-key", "DB_PASSWORD", "my_secret_value", "passwd", "passphrase",
           "credentials", "AUTH", "cookie", "GITHUB_PAT", "Authorization", "Bearer", "bearer", "Basic", "https://",
           "op", "@", "/", "=", ": ", ":", " ", "  ", "\t", "\"", "'", ",", ";", "&", "{", "[", "(", "***",
           "max_tokens", "tokens/s", "KEYMAP", "monkey", "path", "compat", "sk-", "pk-proj-", "rk-", "hf_", "ghp_",
           "github_pat_", "AKIA", "ASIA", "xoxb-", "eyJ", ".", "-", "_", "abcdefghijklmnopqrstuvwxyz0123",
           "ABCDEFGHIJKLMNOP", "12345678", "s3cr3t", "\x1b[0m", "é", "\u212a", "\u017f", "İ", "correct horse battery"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=14).map("".join))
# one case each, so that no other word opens the way (\u212a and \u017f: what a case-blind match takes for K, s)
@example("PASSWORD_FILE=/run/pw")
@example("DB_PASSWORDS: abc")
@example("MYSECRETVALUE=abc")
@example("GITHUB_PAT=abc123")
@example("'auth': 'abc'")
@example("credential: abc")
@example("Cookie: session=abc")
@example("--api-key=abc")
@example("pwd=abc")
@example("PASSPHRASE = 'abc'")
@example("Authorization=Basic abc")
@example("authorization: token abc")
@example("https://op:pw@host/x")
@example("sk-proj-abcdefghijklmnopqrst")
@example("hf_abcdefghijklmnopqrstu")
@example("ghs_abcdefghijklmnopqrstu")
@example("github_pat_abcdefghijklmnopqrstu")
@example("ASIAABCDEFGHIJKLMNOP")
@example("xoxb-1234567890")
@example("eyJabcdefghi.abcdefghi.abcdefghi")
@example("\u212aEY=abc")
@example("pa\u017f\u017fword=abc")
def test_the_quick_screen_masks_exactly_what_every_pattern_would(text: str) -> None:
    """`Redactor` skips a pattern when the line cannot hold its match (a log line goes through it per line); it
    must mask exactly what running every pattern masks."""
    from tui.redact import _PATTERNS

    expected = text.replace(ENV["DB_PASSWORD"], MASK)
    for pattern, replacement, _ in _PATTERNS:
        expected = pattern.sub(replacement, expected)
    assert Redactor({"DB_PASSWORD": ENV["DB_PASSWORD"]})(text) == expected
