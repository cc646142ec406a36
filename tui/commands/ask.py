"""`npu-console ask --url URL [...] PROMPT`: one prompt from the shell, answered as it streams.

The question right after a launch is "does it answer, is the answer sane, how
fast is the first token". This is the playground's client (`tui.api`) without
the screen: the answer goes to stdout as it streams, thinking goes to stderr
(dimmed on a terminal, prefixed `thinking: ` otherwise), so `> answer.txt`
keeps only the answer; the figures (TTFT, tokens/s, tokens, finish reason)
follow on stderr. `--json` prints only the one contract object on stdout, for
scripts.

Exit status (CONTRACTS.md): 0 a complete reply; 1 the server refused, errored,
timed out or died mid-stream (the text that had arrived is printed, the
server's own message goes to stderr); 2 bad usage (bad URL or numbers, an
unset API key variable, an empty prompt). httpx and the client are imported
inside `run`, so `npu-console --help` stays light.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from tui.arg_types import non_negative_float, positive_int, seconds, top_p
from tui.formatting import or_na
from tui.stages.server_options import add_server_arguments

if TYPE_CHECKING:
    from tui.api.client import ApiClient
    from tui.api.reply import Reply, StreamDelta
    from tui.api.request import GenerationRequest

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_FIRST_BYTE_S = 60.0
DIM, RESET = "\x1b[2m", "\x1b[0m"
THINKING_PREFIX = "thinking: "
PROG = "npu-console ask"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `ask` options (CONTRACTS.md) to its subparser."""
    parser.description = parser.description or (
        "Send one prompt to an OpenAI-compatible server (vLLM, the demo, transformers serve) and print the "
        "reply as it streams: the answer on stdout, thinking and timings on stderr."
    )
    add_server_arguments(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--chat", dest="mode", action="store_const", const="chat",
                      help="use /v1/chat/completions with the model's chat template (default)")
    mode.add_argument("--completion", dest="mode", action="store_const", const="completion",
                      help="use /v1/completions with the raw prompt (base models)")
    parser.set_defaults(mode="chat")
    parser.add_argument("--system", metavar="S", help="a system prompt (chat only)")
    parser.add_argument("--max-tokens", type=positive_int, metavar="N", help="at most N new tokens")
    parser.add_argument("--temperature", type=non_negative_float, metavar="T", help="sampling temperature")
    parser.add_argument("--top-p", type=top_p, metavar="P", help="nucleus sampling mass, in (0, 1]")
    parser.add_argument("--no-stream", dest="stream", action="store_false",
                        help="ask for the whole reply at once instead of streaming it")
    parser.add_argument("--json", action="store_true",
                        help="print only one JSON object at the end: text, reasoning, finish_reason, ttft_ms, "
                             "e2e_ms, output_tokens, usage (plus error, partial, tokens_per_s, model)")
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"give up on the whole request after S seconds (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--first-byte-timeout", type=seconds, default=DEFAULT_FIRST_BYTE_S, metavar="S",
                        help="give up when a streaming server stays silent this long "
                             f"(default {DEFAULT_FIRST_BYTE_S:g})")
    parser.add_argument("prompt", metavar="PROMPT", help="the prompt; `-` reads it from stdin")


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Ask, print, and return the exit status."""
    environ = os.environ if env is None else env
    problem = _check_usage(args, environ)
    if problem:
        print(f"{PROG}: {problem}.", file=sys.stderr)
        return EXIT_USAGE
    import asyncio

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        print(f"{PROG}: the prompt is empty; give it as the last argument (or `-` to read stdin).",
              file=sys.stderr)
        return EXIT_USAGE
    printer = _Printer(sys.stdout, sys.stderr, json_mode=bool(args.json))
    try:
        return asyncio.run(_ask(args, prompt, environ, printer))
    except KeyboardInterrupt:
        printer.close_text()
        print(f"{PROG}: interrupted; the text that had arrived is above.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _check_usage(args: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    from urllib.parse import urlsplit

    url = str(args.url).strip()
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--url {url!r} is not an http(s) URL; give it like http://127.0.0.1:8000"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"--url {url!r} has a port that is not a number; give it like http://127.0.0.1:8000"
    if args.system is not None and args.mode == "completion":
        return "--system applies to chat; a completion sends the raw prompt, so put it in PROMPT"
    if args.api_key_env and not env.get(args.api_key_env):
        return f"--api-key-env names ${args.api_key_env}, which is not set; export the key into it and try again"
    return None


async def _ask(args: argparse.Namespace, prompt: str, env: Mapping[str, str], printer: _Printer) -> int:
    from tui.api.client import ApiClient, Timeouts

    timeouts = Timeouts(first_byte_s=min(args.first_byte_timeout, args.timeout), total_s=args.timeout)
    async with ApiClient(args.url, api_key_env=args.api_key_env, env=env, timeouts=timeouts) as client:
        model = args.model
        if model is None:
            found = await _first_model(client)
            if isinstance(found, str):
                if args.json:
                    from tui.api.reply import Reply

                    printer.json(_json_object(Reply(error=found), None))
                print(f"{PROG}: {found}", file=sys.stderr)
                return EXIT_FAILED
            model = found[0] if found else None
        request = _request(args, prompt, model)
        if args.stream:
            reply = await client.stream(request).collect(printer.delta)
        else:
            reply = await client.send(request)
            printer.whole(reply)
    printer.close_text()
    if args.json:
        printer.json(_json_object(reply, model))
    else:
        printer.figures(reply)
    if reply.error is not None:
        print(f"{PROG}: {reply.error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def _first_model(client: ApiClient) -> tuple[str, ...] | str:
    """The served model ids, or the sentence saying why they could not be listed.

    An empty list is not an error: `transformers serve` pinned to a folder lists
    none and answers requests that name no model.
    """
    from tui.api.errors import ApiError

    try:
        models = await client.list_models()
    except ApiError as error:
        return f"{error.sentence} (or give the model with --model)" if error.status else error.sentence
    return tuple(model.id for model in models)


def _request(args: argparse.Namespace, prompt: str, model: str | None) -> GenerationRequest:
    from tui.api.request import ChatRequest, CompletionRequest, Sampling

    sampling = Sampling(max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p)
    if args.mode == "completion":
        return CompletionRequest(prompt, model=model, sampling=sampling)
    return ChatRequest.single(prompt, model=model, system=args.system, sampling=sampling)


def _json_object(reply: Reply, model: str | None) -> dict[str, Any]:
    timings = reply.timings
    return {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "finish_reason": reply.finish_reason,
        "ttft_ms": None if timings.ttft_ms is None else round(timings.ttft_ms, 3),
        "e2e_ms": None if timings.e2e_ms is None else round(timings.e2e_ms, 3),
        "output_tokens": timings.output_tokens,
        "usage": None if reply.usage is None else reply.usage.to_json(),
        "output_tokens_estimated": timings.output_tokens_estimated,
        "tokens_per_s": None if timings.tokens_per_s is None else round(timings.tokens_per_s, 3),
        "model": reply.model or model,
        "error": reply.error,
        "partial": reply.partial,
    }


class _Printer:
    """Where each part of the reply goes: answer to stdout as it comes, thinking and figures to stderr."""

    def __init__(self, out: TextIO, err: TextIO, *, json_mode: bool) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self.dim = _isatty(err) and not os.environ.get("NO_COLOR")
        self._text_open = False
        self._text_ends_newline = True
        self._thinking_open = False
        self._thinking_line_start = True

    def delta(self, delta: StreamDelta) -> None:
        if self.json_mode:
            return
        if delta.reasoning:
            self._thinking(delta.reasoning)
        if delta.text:
            self._end_thinking()
            _write(self.out, delta.text)
            self.out.flush()
            self._text_open = True
            self._text_ends_newline = delta.text.endswith("\n")

    def whole(self, reply: Reply) -> None:
        from tui.api.reply import StreamDelta

        self.delta(StreamDelta(reply.text, reply.reasoning, reply.finish_reason))

    def _thinking(self, text: str) -> None:
        if self.dim:
            _write(self.err, DIM + text + RESET)
        else:
            pieces = []
            for line in text.splitlines(keepends=True):
                if self._thinking_line_start:
                    pieces.append(THINKING_PREFIX)
                pieces.append(line)
                self._thinking_line_start = line.endswith("\n")
            _write(self.err, "".join(pieces))
        self.err.flush()
        self._thinking_open = True

    def _end_thinking(self) -> None:
        if self._thinking_open:
            if not self._thinking_line_start or self.dim:
                _write(self.err, "\n")
            self.err.flush()
            self._thinking_open = False
            self._thinking_line_start = True

    def close_text(self) -> None:
        """End the answer with a newline (so the shell prompt starts on its own line) and close thinking."""
        self._end_thinking()
        if self._text_open and not self._text_ends_newline:
            _write(self.out, "\n")
            self.out.flush()
        self._text_open = False

    def json(self, data: Mapping[str, Any]) -> None:
        _write(self.out, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        self.out.flush()

    def figures(self, reply: Reply) -> None:
        timings = reply.timings
        tokens = or_na(timings.output_tokens, "d") + (" (estimated)" if timings.output_tokens_estimated else "")
        line = (f"[ttft {or_na(timings.ttft_ms, '.1f', ' ms')} · {or_na(timings.tokens_per_s, '.1f', ' tok/s')} · "
                f"{tokens} tokens · e2e {or_na(timings.e2e_ms, '.1f', ' ms')} · finish {reply.finish_reason or 'N/A'}]")
        if reply.error is None or reply.text or reply.reasoning:
            _write(self.err, line + "\n")
            self.err.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _write(stream: TextIO, text: str) -> None:
    """Write even where the terminal's encoding cannot show every character (LANG=C over SSH)."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, errors="replace").decode(encoding))
