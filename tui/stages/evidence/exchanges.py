"""The API exchanges a report quotes: each request as the `curl` that repeats it, and what the server said.

The requests are built by the console's API client (`ApiClient.prepare`, `models_request`) and printed by
its `as_curl`, so the command in the report is byte for byte the request that was sent; the API key
stays a `$VAR`. The answer is kept as the server sent it (JSON parsed, other text as is), bounded.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui.api.client import ApiClient
from tui.api.curl import as_curl
from tui.api.errors import describe
from tui.api.request import ChatRequest, CompletionRequest, HttpRequest, Sampling

BODY_LIMIT = 1024 * 1024
VERSION_PATH = "/version"


def _loopback(url: str) -> bool:
    """No proxy can reach a loopback server, so proxy variables are ignored for one (as the client does)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


async def fetch(client: ApiClient, request: HttpRequest, timeout_s: float) -> dict[str, Any]:
    """`{"curl", "status", "response", "error"}` for one request, sent as `curl` would send it."""
    headers = dict(request.headers)
    key = client.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    record: dict[str, Any] = {"curl": as_curl(request), "status": None, "response": None, "error": None}
    try:
        async with httpx.AsyncClient(trust_env=not _loopback(request.url), timeout=timeout_s) as http, \
                http.stream(request.method, request.url, headers=headers, content=request.body) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > BODY_LIMIT:
                    body = body[:BODY_LIMIT]
                    record["truncated"] = True
                    break
            record["status"] = response.status_code
    except (httpx.HTTPError, OSError, asyncio.TimeoutError) as exc:
        record["error"] = f"{request.method} {request.url} failed: {describe(exc)}"
        return record
    text = body.decode("utf-8", errors="replace")
    try:
        record["response"] = json.loads(text)
    except ValueError:
        record["response"] = text
    if not 200 <= record["status"] < 300:
        record["error"] = f"{request.method} {request.url} answered HTTP {record['status']}"
    return record


async def api_exchanges(client: ApiClient, model: str | None, chat_prompt: str, completion_prompt: str,
                        max_tokens: int, timeout_s: float) -> dict[str, dict[str, Any]]:
    """`/v1/models`, `/version`, one chat and one completion (temperature 0, not streamed)."""
    sampling = Sampling(max_tokens=max_tokens, temperature=0.0)
    chat = client.prepare(ChatRequest.single(chat_prompt, model=model, sampling=sampling), stream=False)
    completion = client.prepare(CompletionRequest(completion_prompt, model=model, sampling=sampling), stream=False)
    version = HttpRequest("GET", client.root + VERSION_PATH, headers=client.headers, api_key_env=client.api_key_env)
    return {
        "models": await fetch(client, client.models_request(), timeout_s),
        "version": await fetch(client, version, timeout_s),
        "chat": await fetch(client, chat, timeout_s),
        "completion": await fetch(client, completion, timeout_s),
    }
