"""The exact request as a `curl` command an operator can paste into a shell, or into a bug report.

The API key appears as `$VAR` inside double quotes, so the shell fills it in
and the secret never lands in a clipboard, a screenshot or `chat.jsonl`.
Everything else is single-quoted (shlex), so prompts with quotes, `$` or
newlines survive the paste unchanged.
"""

from __future__ import annotations

import re
import shlex

from tui.api.request import HttpRequest

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def as_curl(request: HttpRequest) -> str:
    """`curl …` for `request`, one option per line; `-N` for a stream so tokens show as they come."""
    first = "curl -sS" + (" -N" if request.stream else "")
    if request.method != ("POST" if request.body is not None else "GET"):
        first += f" -X {request.method}"
    parts = [f"{first} {shlex.quote(request.url)}"]
    for name, value in request.headers:
        parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if request.api_key_env:
        if _ENV_NAME.fullmatch(request.api_key_env):
            parts.append(f'-H "Authorization: Bearer ${request.api_key_env}"')
        else:
            parts.append(f"-H {shlex.quote('Authorization: Bearer <' + request.api_key_env + '>')}")
    if request.body is not None:
        parts.append(f"-d {shlex.quote(request.body.decode('utf-8'))}")
    return " \\\n  ".join(parts)
