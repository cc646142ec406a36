"""Is the API really up? The log says "Application startup complete." a moment before uvicorn binds.

The pipeline asks this once the log has said so: it sends `GET /v1/models`
until the server answers (any status below 500: a 401 from a server with
`--api-key` is an answer) or the bound runs out. It stops asking the moment the
caller's `gone` event is set (the server died or was stopped), so nothing waits
on a timer for a server that is no longer there.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

PROBE_TIMEOUT_S = 2.0
PROBE_INTERVAL_S = 0.2


def models_url(url: str) -> str:
    """`<root>/v1/models` from a server root or an OpenAI base URL (`…/v1`)."""
    return f"{url.rstrip('/').removesuffix('/v1')}/v1/models"


async def api_answers(
    url: str,
    *,
    within_s: float,
    gone: asyncio.Event,
    api_key: str | None = None,
    transport: Any | None = None,
) -> bool:
    """True once `GET <url>/v1/models` answers; False at the bound, or as soon as `gone` is set."""
    import httpx

    probe = models_url(url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(transport=transport, timeout=PROBE_TIMEOUT_S) as client:
        while not gone.is_set():
            try:
                if (await client.get(probe, headers=headers)).status_code < 500:
                    return True
            except httpx.HTTPError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:  # the pause between two tries ends early when the server goes away
                await asyncio.wait_for(gone.wait(), min(PROBE_INTERVAL_S, left))
            except asyncio.TimeoutError:
                pass
    return False
