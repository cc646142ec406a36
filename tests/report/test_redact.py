"""Anything that looks like a credential never reaches a report; what only resembles one stays."""

from __future__ import annotations

import pytest

from tui.report.redact import MASK, redact, redact_tree


@pytest.mark.parametrize(("text", "shown"), [
    ("export OPENAI_API_KEY=sk-abcdefghijklmnop1234", f"export OPENAI_API_KEY={MASK}"),
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz", f"HF_TOKEN={MASK}"),
    ('MODELSCOPE_API_TOKEN="abc def"', f'MODELSCOPE_API_TOKEN="{MASK}"'),
    ("vllm serve m --api-key s3cr3tvalue --port 8000", f"vllm serve m --api-key {MASK} --port 8000"),
    ("Authorization: Bearer abc123def456", f"Authorization: Bearer {MASK}"),
    ('{"api_key": "xyz12345"}', f'{{"api_key": "{MASK}"}}'),
    ("password: hunter22", f"password: {MASK}"),
    ("token ghp_abcdefghijklmnopqrstuvwx1234 in a log line", f"token {MASK} in a log line"),
    ("repeat sk-reportmustnevershowthis0123456789", f"repeat {MASK}"),
])
def test_credentials_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    '-H "Authorization: Bearer $VLLM_API_KEY"',  # a variable reference pastes; it is no secret
    "VLLM_API_KEY=$KEY",
    "max_tokens=5 tokenizer=/models/x",
    "TOKENIZERS_PARALLELISM=false",
    "The tokens per second were 41.2",
])
def test_what_only_resembles_a_credential_stays(text: str) -> None:
    assert redact(text) == text


def test_values_under_secret_names_are_masked_in_json() -> None:
    tree = {"env": {"MY_TOKEN": "abc", "TOKENIZERS_PARALLELISM": "false", "HF_HOME": "/data"},
            "argv": ["vllm", "--api-key", "plain"]}
    assert redact_tree(tree) == {"env": {"MY_TOKEN": MASK, "TOKENIZERS_PARALLELISM": "false", "HF_HOME": "/data"},
                                 "argv": ["vllm", "--api-key", MASK]}
