"""One bounded scrape of a server's `/metrics`, as values or as one sentence that says what went wrong.

The serving panel polls this every second or two (re-armed after each call,
never on a fixed interval), so it must always come back within its bound and
never raise: a server that is still loading weights, that died, or that is a
proxy answering HTML all become a sentence the panel can show in place of the
numbers. Parsing is `tui.server.serving_metrics`, shared with tests and the CLI.
"""

from __future__ import annotations

import asyncio

import httpx

from tui.api.bounded import within
from tui.api.errors import refused
from tui.server.serving_metrics import Exposition, ServingMetrics, parse_exposition

_BODY_LINE_LIMIT = 200
_HINTS = {
    401: "; check the API key",
    403: "; check the API key",
    404: "; is this a vLLM server?",
}


def metrics_url(base_url: str) -> str:
    """`<base>/metrics`, from a server root or an OpenAI base URL (`…/v1`): vLLM serves metrics at the root."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return f"{base}/metrics"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= _BODY_LINE_LIMIT else line[: _BODY_LINE_LIMIT - 1] + "…"
    return ""


def _has_vllm_metrics(exposition: Exposition) -> bool:
    return any(sample.name.startswith("vllm:") for sample in exposition.samples)


async def fetch_metrics(
    client: httpx.AsyncClient,
    base_url: str,
    *,
    timeout: float = 3.0,
    api_key: str | None = None,
) -> ServingMetrics | str:
    """GET `<base>/metrics` and parse it; on any failure, one sentence instead.

    `timeout` bounds the whole call, not each phase: httpx's own timeout is per
    connect/read, so a server that trickles a byte every second would otherwise
    hold the poll forever; `within` is the outer bound. The API key is
    sent as a bearer token for proxies that guard every path (vLLM's own
    `--api-key` only guards `/v1`).
    """
    url = metrics_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    try:
        response = await within(client.get(url, headers=headers, timeout=timeout), timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        return f"no answer from {url} within {timeout:g} s; the server may be hung or too busy to answer"
    except httpx.ConnectError as exc:
        if refused(exc):
            return f"nothing answers at {base_url}; is the server up?"
        return f"cannot connect to {base_url}: {str(exc) or type(exc).__name__}"
    except httpx.HTTPError as exc:
        return f"fetching {url} failed: {str(exc) or type(exc).__name__}"
    if response.status_code != 200:
        detail = _first_line(response.text)
        hint = _HINTS.get(response.status_code, "")
        reason = f"{response.status_code} {response.reason_phrase}".strip()
        return f"{url} answered {reason}" + (f": {detail}" if detail else "") + hint
    exposition = parse_exposition(response.text)
    if not _has_vllm_metrics(exposition):
        return f"{url} answered, but with no vllm:* metrics; is this a vLLM server?"
    return ServingMetrics.from_exposition(exposition)
