"""Which server log lines are the console's own requests, so the log pane can hide them.

While a server is up the console reads `/metrics` every 2 s and asks `/v1/models`
when it becomes ready; attach checks read `/health` and `/version`. uvicorn writes
an access line for each, so after a minute the pane would show nothing but the
console talking to itself. A line counts as ours when it is an access line for one
of those GET paths from a loopback client (the console runs on the server's host);
the same request from another host, or any other request, is the server's traffic
and stays in view.
"""

from __future__ import annotations

import re

OWN_PATHS = ("/metrics", "/v1/models", "/health", "/version", "/ping")

_ACCESS = re.compile(
    r"(?P<client>\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9a-fA-F:]+\]?|localhost):\d+ - "
    r"\"(?:GET|HEAD) (?P<path>/[^ ?\"]*)(?:\?[^ \"]*)? HTTP/[\d.]+\" \d{3}"
)
_PREFIX = re.compile(r"^(?:\x1b\[[0-9;]*m)?\((?:APIServer|EngineCore\w*|\w*Worker\w*)[^)]*\)(?:\x1b\[[0-9;]*m)?\s?")


def is_own_request(text: str) -> bool:
    """True for an access line of the console's own polling (GET /metrics … from loopback)."""
    if "HTTP/" not in text or ('"GET ' not in text and '"HEAD ' not in text):  # what `_ACCESS` needs, found fast
        return False
    match = _ACCESS.search(text)
    if match is None or match.group("path").rstrip("/") not in OWN_PATHS:
        return False
    client = match.group("client").strip("[]")
    return client.startswith("127.") or client in ("::1", "localhost", "::ffff:127.0.0.1")


def process_prefix_end(text: str) -> int:
    """Where a `(APIServer pid=N) ` prefix ends (0 when there is none), for the pane to dim it."""
    match = _PREFIX.match(text)
    return match.end() if match else 0
