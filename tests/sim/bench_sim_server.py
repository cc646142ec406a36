"""How fast the simulated vLLM server answers when it is told to be instant.

Run: `.venv/bin/python tests/sim/bench_sim_server.py [--seconds 5] [--connections 32]`.

A later benchmark stage uses the sim with zero latency as an "instant" target,
so the figures that matter are the ceiling of the server itself:

- short non-streamed `/v1/completions` requests per second, over keep-alive
  connections (each connection sends its next request when the answer is in);
- streamed chunks per second, for one long stream and for several at once.

The server runs as the demo runs it (through the `vllm` shim, access log on,
its log written to a file). The load generator is a raw asyncio HTTP/1.1
client, so the figures measure the server rather than a client library; both
share this machine's CPUs, so read them as a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.sim.demo import prepare_demo_host

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_bytes(path: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one response (content-length or chunked); return (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = head.lower()
    if b"transfer-encoding: chunked" in headers:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    length = int(headers.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    return status, await reader.readexactly(length)


async def short_requests(port: int, seconds: float, connections: int) -> tuple[int, int]:
    """Closed-loop load of short completions; returns (answered, failed)."""
    payload = request_bytes("/v1/completions", {"prompt": "Say hi", "max_tokens": 8, "ignore_eos": True})
    deadline = time.monotonic() + seconds
    done = failed = 0

    async def worker() -> None:
        nonlocal done, failed
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                writer.write(payload)
                status, _ = await read_response(reader)
                if status == 200:
                    done += 1
                else:
                    failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, failed


async def stream_chunks(port: int, streams: int, tokens: int) -> tuple[int, float]:
    """Run `streams` streams of `tokens` tokens at once; returns (SSE events, seconds)."""
    payload = request_bytes(
        "/v1/chat/completions",
        {
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": tokens,
            "ignore_eos": True,
            "stream": True,
        },
    )

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(payload)
            _, body = await read_response(reader)
            return body.count(b"data: ")
        finally:
            writer.close()

    started = time.monotonic()
    counts = await asyncio.gather(*(one() for _ in range(streams)))
    return sum(counts), time.monotonic() - started


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    demo = prepare_demo_host(home)
    env = demo.env({**os.environ, **INSTANT})
    vllm = shutil.which("vllm", path=env["PATH"])
    assert vllm is not None
    argv = [vllm, "serve", str(demo.model_dir()), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while b"Application startup complete." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the sim server did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the short-request load")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections for short requests")
    parser.add_argument("--tokens", type=int, default=20000, help="tokens per stream")
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams in the second stream run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="npu-console-bench-") as folder:
        port = free_port()
        process = start_server(Path(folder) / "sim", port, Path(folder) / "server.log")
        try:
            done, failed = asyncio.run(short_requests(port, options.seconds, options.connections))
            print(
                f"short completions: {done / options.seconds:,.0f} req/s "
                f"({done} answered, {failed} failed, "
                f"{options.connections} connections, {options.seconds:.0f} s)"
            )
            events, seconds = asyncio.run(stream_chunks(port, 1, options.tokens))
            rate = events / seconds
            print(f"one stream:        {rate:,.0f} chunks/s ({events} SSE events in {seconds:.2f} s)")
            events, seconds = asyncio.run(stream_chunks(port, options.streams, options.tokens // options.streams))
            print(
                f"{options.streams} streams:         {events / seconds:,.0f} chunks/s "
                f"({events} SSE events in {seconds:.2f} s)"
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
