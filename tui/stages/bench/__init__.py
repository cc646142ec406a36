"""The benchmark stage: latency, concurrency and serving benchmarks with vLLM's metric definitions.

Run as ``python -m tui.stages.bench latency|concurrency|serve|compare …`` (JSON-lines events on stdout,
CONTRACTS.md "Stages") or through ``npu-console bench``. Modules, one concern each: `stats` (numpy-equal
statistics in pure Python), `records` (one request's timings), `metrics` (vLLM's `calculate_metrics`),
`dataset` (the random dataset with exact token lengths), `arrivals` (when each request is sent),
`loadgen` (the aiohttp load generator), `server_side` (the server's `/metrics` before and after),
`compare` (two results side by side), `report` (the human summary), `options` (the shared command line)
and `stage` (the three modes end to end).

Stdlib and aiohttp only: the stage runs under the console's own interpreter, and Textual, httpx and numpy
stay out of it.
"""
