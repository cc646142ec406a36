"""The options of a stage that talks to a server, and what they resolve to.

`--url`, `--model` and `--api-key-env` mean the same in `npu-console ask` and in the evidence,
accuracy and benchmark stages and their commands, so they are added here once, with one help text
each. `server_root` and `api_key_headers` turn them into what a request needs; the key is read from
the named environment variable and never printed. Stdlib only (the stages run under the serving
environment's Python).
"""

from __future__ import annotations

import argparse
import os

from tui.stages.entry import StageRunError


def add_server_arguments(parser: argparse.ArgumentParser, *, url_required: bool = True) -> None:
    """`--url` (required unless the command checks it itself), `--model` and `--api-key-env`."""
    parser.add_argument("--url", required=url_required, metavar="URL",
                        help="the OpenAI-compatible server, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)")
    parser.add_argument("--model", metavar="M", help="the served model name (default: the first of /v1/models)")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="the environment variable holding the API key (sent as a bearer token)")


def server_root(url: str) -> str:
    """The server's root URL: `…/v1` and trailing slashes removed."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def api_key_headers(api_key_env: str | None) -> dict[str, str]:
    """The JSON content type, and the bearer token from `api_key_env` (a `StageRunError`, exit 2, when unset)."""
    headers = {"Content-Type": "application/json"}
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise StageRunError(f"environment variable {api_key_env} is not set; export the API key in it", 2)
        headers["Authorization"] = f"Bearer {key}"
    return headers
