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
from collections.abc import Iterable, Mapping

MASK = "***"
_MIN_LITERAL = 8  # shorter environment values are too likely to be ordinary words

_SECRET_WORD = r"(?:api[_-]?key|access[_-]?key|key|token|secret|password|passwd|pwd|passphrase|credentials?|auth|" \
               r"cookie|pat|\w*secret\w*|\w*password\w*)"
_SECRETISH = rf"(?:[A-Za-z0-9]+[_.-])*{_SECRET_WORD}(?![A-Za-z0-9_])"
"""A name whose last part is a secret word (`HF_TOKEN`, `api_key`, `X-Api-Key`), not `max_tokens` or `KEYMAP`."""
_NAME_RE = re.compile(rf"(?i){_SECRETISH}")
_NOT_SECRET = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK"})

_NAMED = "named"  # a pattern of a secret-looking name: run only where `_NAME_THEN_VALUE` finds one
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # "api_key": "value"  /  'token': 'value'
    (re.compile(rf"""(?i)(["']{_SECRETISH}["']\s*:\s*)(["'])(?:(?!\2).)*\2"""), rf"\1\2{MASK}\2", (_NAMED,)),
    # Authorization: Bearer xyz  /  Authorization: Basic xyz
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s\"',;]+"), rf"\1{MASK}",
     ("authorization",)),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{MASK}", ("bearer",)),
    # NAME=value / NAME: value / --api-key value / --api-key=value
    (re.compile(rf"(?i)(--{_SECRETISH}[ =])(?!\*\*\*)\S+"), rf"\1{MASK}", (_NAMED,)),
    (re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRETISH}\s*[=:]\s*)(?![\"'{{\[(]|\*\*\*)[^\s,;&]+"), rf"\1{MASK}",
     (_NAMED,)),
    (re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_SECRETISH}\s*=\s*)([\"'])(?:(?!\2).)*\2"), rf"\1\2{MASK}\2", (_NAMED,)),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@", ("://",)),
    # well-known token shapes, wherever they stand
    (re.compile(r"\b(?:sk|pk|rk)-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"), MASK, ("sk-", "pk-", "rk-")),
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), MASK, ("hf_",)),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK,
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK, ("akia", "asia")),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK, ("xox",)),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK, ("eyj",)),
)
"""Each pattern with what an ASCII text must hold, lower-cased, for it to match (`_NAMED`: what
`_NAME_THEN_VALUE` finds). A log line that holds none of it is left as it is after a few substring checks
instead of a dozen scans: a server's log goes through here line by line."""
_NAME_THEN_VALUE = {
    word: re.compile(rf"{ending}(?![a-z0-9_])[\"']?\s*[=:\s]")
    for word, ending in (("key", "key"), ("token", "token"), ("secret", r"secret\w*"),
                         ("pass", r"pass(?:word\w*|wd|phrase)"), ("pwd", "pwd"), ("credential", "credentials?"),
                         ("auth", "auth"), ("cookie", "cookie"), ("pat", "pat"))
}
"""What every match of a name pattern holds, in lower case: the name's last word (those `_SECRET_WORD` lists), then
`=`, `:` or a space (`--api-key value`), perhaps after a closing quote. Keyed by a part of the word that a
substring check finds first; each regex starts with that literal, which `re` finds fast (an alternation of
words it would try at every position)."""
_NAME_WORDS = tuple(_NAME_THEN_VALUE)
_LITERAL_NEEDS = tuple(need for _, _, needs in _PATTERNS for need in needs if need != _NAMED)


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
    return Redactor(env)(text)


class Redactor:
    """`redact` for many texts under one environment (a server's log lines): its secret values are found once.

    `values` are more literal secrets to mask (an API key the console was given, not from the environment).
    """

    def __init__(self, env: Mapping[str, str] | None = None, values: Iterable[str] = ()) -> None:
        found = _secret_values(os.environ if env is None else env)
        more = {value for value in values if len(value) >= _MIN_LITERAL} - set(found)
        self._values = sorted([*found, *more], key=len, reverse=True)  # a longer secret first

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        if not text.isascii():  # lower() is not what a case-blind match sees beyond ASCII: every pattern runs
            for pattern, replacement, _ in _PATTERNS:
                text = pattern.sub(replacement, text)
            return text
        lowered = text.lower()
        holds = lowered.__contains__
        named = any(map(holds, _NAME_WORDS)) and any(
            check.search(lowered) for word, check in _NAME_THEN_VALUE.items() if word in lowered)
        if not named and not any(map(holds, _LITERAL_NEEDS)):
            return text
        for pattern, replacement, needs in _PATTERNS:
            if named if needs == (_NAMED,) else any(map(holds, needs)):
                text = pattern.sub(replacement, text)  # a mask only removes what a later pattern needs, never adds
        return text


def _secret_values(env: Mapping[str, str]) -> list[str]:
    values = {value for name, value in env.items() if len(value) >= _MIN_LITERAL and is_secret_name(name)}
    return sorted(values, key=len, reverse=True)  # a longer secret first, in case one contains another
