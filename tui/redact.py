"""Masking secrets before text reaches a screen, a log or a report.

Two calls, for everyone:

- `redact(text) -> str`: `NAME=value`, `NAME: value` and `"NAME": "value"` where
  NAME looks secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL, AUTH…), an
  `Authorization: Bearer …` header, a URL's password, the well-known token
  shapes (`sk-…`, `hf_…`, `ghp_…`, `AKIA…`, JWTs), and the literal value of every
  secret-named variable of this process's environment wherever it appears.
- `redact_env(mapping) -> dict`: the same mapping with secret-named values masked.

The mask is `***`; the name stays, so the operator still sees *which* secret was
there. Cheap enough for every message (compiled patterns, no I/O).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
_MIN_LITERAL = 8  # shorter environment values are too likely to be ordinary words

_SECRET_WORD = r"(?:api[_-]?key|access[_-]?key|key|token|secret|password|passwd|pwd|passphrase|credentials?|auth|" \
               r"cookie|pat|\w*secret\w*|\w*password\w*)"
_SECRETISH = rf"(?:[A-Za-z0-9]+[_.-])*{_SECRET_WORD}(?![A-Za-z0-9_])"
"""A name whose last part is a secret word (`HF_TOKEN`, `api_key`, `X-Api-Key`), not `max_tokens` or `KEYMAP`."""
_NAME_RE = re.compile(rf"(?i){_SECRETISH}")
_NOT_SECRET = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "api_key": "value"  /  'token': 'value'
    (re.compile(rf"""(?i)(["']{_SECRETISH}["']\s*:\s*)(["'])(?:(?!\2).)*\2"""), rf"\1\2{MASK}\2"),
    # Authorization: Bearer xyz  /  Authorization: Basic xyz
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s\"',;]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{MASK}"),
    # NAME=value / NAME: value / --api-key value / --api-key=value
    (re.compile(rf"(?i)(--{_SECRETISH}[ =])(?!\*\*\*)\S+"), rf"\1{MASK}"),
    (re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRETISH}\s*[=:]\s*)(?![\"'{{\[(]|\*\*\*)[^\s,;&]+"), rf"\1{MASK}"),
    (re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRETISH}\s*=\s*)([\"'])(?:(?!\2).)*\2"), rf"\1\2{MASK}\2"),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # well-known token shapes, wherever they stand
    (re.compile(r"\b(?:sk|pk|rk)-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
)


def is_secret_name(name: str) -> bool:
    """True when a variable or key named `name` probably holds a secret (`HF_TOKEN`, `api_key`, `DB_PASSWORD`)."""
    if name.upper() in _NOT_SECRET:
        return False
    return _NAME_RE.fullmatch(name) is not None


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the value of every secret-named variable replaced by `***` (names kept, order kept)."""
    return {name: (MASK if is_secret_name(name) and value else value) for name, value in env.items()}


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with everything that looks like a key, token or password masked.

    `env` (default: this process's environment) supplies literal secret values to
    mask wherever they appear, named or not (a token pasted into a path, an argv
    list printed as a Python repr).
    """
    if not text:
        return text
    for value in _secret_values(os.environ if env is None else env):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _secret_values(env: Mapping[str, str]) -> list[str]:
    values = {value for name, value in env.items() if len(value) >= _MIN_LITERAL and is_secret_name(name)}
    return sorted(values, key=len, reverse=True)  # a longer secret first, in case one contains another
