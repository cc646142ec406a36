"""Secrets out of everything a report shows: API keys, tokens, passwords, bearer credentials.

A report is pasted into tickets and chats, so anything that looks like a credential is replaced by
`<redacted>` wherever it appears: in launch scripts and argv, environment overrides, curl commands,
responses and log lines. Two kinds of clue are used: the shape of well-known keys (`sk-…`, `hf_…`,
`ghp_…`, AWS ids, JWTs, `Bearer …`) and the name the value is given (`*_TOKEN=…`, `--api-key …`,
`"password": "…"`). A `$VAR` reference is no secret and is kept, so curl commands still paste.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "<redacted>"
_NAME = (r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|token|secret|secret[_-]?key|passw(?:or)?d|credentials?"
         r"|access[_-]?key)(?![A-Za-z0-9])")
"""A name that ends in a secret's word: `HF_TOKEN`, `api_key`, `--api-key`, `password`; not `max_tokens`."""
_NAME_ONLY = re.compile(_NAME, re.IGNORECASE)
_FLAG_ONLY = re.compile(rf"--{_NAME}", re.IGNORECASE)
_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    re.compile(r"\bms-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
)
_BEARER = re.compile(r"(?i)\b(Bearer|Basic|Token)\s+(?!\$)[A-Za-z0-9._~+/=-]{6,}")
_QUOTED = re.compile(rf"(?i)(\b{_NAME}\s*[=:]\s*)(['\"])(?!\$|<redacted>)([^'\"\n]+)(\2)")
_ASSIGNED = re.compile(rf"(?i)(\b{_NAME}\s*[=:]\s*)()(?!\$|<redacted>|['\"])([^\s'\",;&]+)()")
_FLAG = re.compile(rf"(?i)(--{_NAME}(?:=|\s+))(['\"]?)(?!\$|-)([^\s'\"]+)(\2)")
_JSON_PAIR = re.compile(rf"(?i)(\"{_NAME}\"\s*:\s*\")(?!\$)([^\"]+)(\")")


def redact(text: str) -> str:
    """`text` with every credential-looking value replaced by `<redacted>`."""
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _JSON_PAIR.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    text = _FLAG.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(4), text)
    text = _QUOTED.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(4), text)
    return _ASSIGNED.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(4), text)


def redact_tree(value: Any, key: str | None = None) -> Any:
    """A JSON-like value with every string redacted, and every value under a secret-sounding key masked."""
    if isinstance(value, str):
        if key is not None and _NAME_ONLY.fullmatch(key) and value and not value.startswith("$"):
            return MASK
        return redact(value)
    if isinstance(value, dict):
        return {name: redact_tree(item, str(name)) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for index, item in enumerate(value):  # an argv: the word after `--api-key` is the key
            before = value[index - 1] if index else None
            secret_flag = isinstance(before, str) and _FLAG_ONLY.fullmatch(before) is not None
            out.append(MASK if secret_flag and isinstance(item, str) and not item.startswith("$")
                       else redact_tree(item))
        return out
    return value
