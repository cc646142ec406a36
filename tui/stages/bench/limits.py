"""The load generator's bounds, in one light module (the command line shows them without importing aiohttp).

Every reader of a server's reply is bounded in memory and in time: an SSE event (and so any line in
it) is kept up to `MAX_EVENT_BYTES` while its blank line has not come, a reply may send at most
`MAX_CHUNKS` choice chunks, and four timeouts end a server that stops answering: the TCP connect,
the first bytes of the reply, any later silence, and the request as a whole.
"""

from __future__ import annotations

MAX_EVENT_BYTES = 4 * 1024 * 1024
"""The longest SSE event (so also the longest line) kept while waiting for its blank line."""
MAX_CHUNKS = 262_144
"""The most choice chunks one reply may send (each costs an ITL entry)."""
CONNECT_TIMEOUT_S = 30.0
FIRST_BYTE_TIMEOUT_S = 600.0
"""Generous: a queued request on a loaded server waits for its prefill before its first byte."""
IDLE_TIMEOUT_S = 300.0
TOTAL_TIMEOUT_S = 3600.0
