"""The routes of the simulated vLLM server and the request life cycle behind them.

`SimServing.handle` is the HTTP handler. Requests that can be answered at once
(zero latency, not streamed, a free batch slot) are answered synchronously, with
no task and no sleep, which is what lets the sim serve thousands of requests per
second to a benchmark. Everything else becomes a coroutine that waits for a
batch slot (`--max-num-seqs`), sleeps the time to first token, then streams one
token per `NPU_CONSOLE_SIM_TPOT_MS`.

Faults are injected here: `NPU_CONSOLE_SIM_FAULT=die-midstream` (first streamed
reply) and the `X-Sim-Fault` request header (`die-midstream`, `error-500`) end
the process partway through an answer with `os._exit`, as a crash would.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from tui.sim import api_protocol as proto
from tui.sim import textgen
from tui.sim.engine_plan import EnginePlan
from tui.sim.http_server import HandlerResult, Request, Response, StreamResponse
from tui.sim.metrics import ServingMetrics
from tui.sim.serve_args import VLLM_VERSION
from tui.sim.settings import FAULT_DIE_MIDSTREAM, FAULT_ERROR_500, FAULT_HEADER, SimSettings, wall_time

JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
CRASH_EXIT_STATUS = 1
PREFILL_TOKENS_PER_BASE_TTFT = 2000
_SEEN_BLOCKS_LIMIT = 200_000

_NOT_FOUND = Response(404, b'{"detail":"Not Found"}')
_NOT_ALLOWED = Response(405, b'{"detail":"Method Not Allowed"}')
_UNAUTHORIZED = Response(401, b'{"error":"Unauthorized"}')

POST_ROUTES = ("/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize", "/ping")
GET_ROUTES = ("/health", "/ping", "/version", "/v1/models", "/metrics", "/load")


def crash() -> None:
    """Die at once, like a killed or segfaulted server: no cleanup, no more output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(CRASH_EXIT_STATUS)


class SimServing:
    """Answers the OpenAI-compatible API for one served model."""

    def __init__(
        self,
        plan: EnginePlan,
        settings: SimSettings,
        *,
        api_keys: Sequence[str] = (),
        default_system: str | None = None,
        force_include_usage: bool = False,
        max_logprobs: int = 20,
        on_crash: Callable[[], None] = crash,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.api_keys = tuple(api_keys)
        self.on_crash = on_crash
        self.created = int(wall_time())
        self.ctx = proto.ServingContext(
            served_names=plan.served_model_names,
            max_model_len=plan.max_model_len,
            max_logprobs=max_logprobs,
            thinking_model=plan.thinking,
            default_system=default_system,
            force_include_usage=force_include_usage,
        )
        self.metrics = ServingMetrics(plan.served_model_names[0], plan.kv_cache_tokens, plan.block_size)
        self.instant = settings.ttft_ms == 0 and settings.tpot_ms == 0
        self.die_midstream_armed = FAULT_DIE_MIDSTREAM in settings.faults
        self.requests_seen = 0
        self.peak_running = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._seen_blocks: set[int] = set()
        self._models_body = proto.dumps(
            proto.models_response(plan.served_model_names, plan.model, plan.max_model_len, self.created)
        )

    # routing -------------------------------------------------------------------------------

    def handle(self, request: Request) -> HandlerResult:
        path, method = request.path, request.method
        if (method == "POST" and path in POST_ROUTES) or (method in ("GET", "HEAD") and path in GET_ROUTES):
            if self.api_keys and path.startswith("/v1") and not self._authorized(request):
                return _UNAUTHORIZED
            try:
                return self._route(request)
            except proto.ApiError as error:
                return self.error(error)
        if path in POST_ROUTES or path in GET_ROUTES:
            return _NOT_ALLOWED
        return _NOT_FOUND

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return any(header == f"Bearer {key}" for key in self.api_keys)

    def _route(self, request: Request) -> HandlerResult:
        path = request.path
        if path == "/v1/chat/completions":
            return self.generate(request, proto.parse_chat)
        if path == "/v1/completions":
            return self.generate(request, proto.parse_completion)
        if path in ("/health", "/ping"):
            return Response(200, b"", content_type="")
        if path == "/v1/models":
            return Response(200, self._models_body)
        if path == "/metrics":
            return Response(200, self.metrics.render().encode("utf-8"), content_type=PROMETHEUS)
        if path == "/version":
            return Response(200, proto.dumps({"version": VLLM_VERSION}))
        if path == "/load":
            return Response(200, proto.dumps({"server_load": self.metrics.running + self.metrics.waiting}))
        if path == "/tokenize":
            return self.tokenize(proto.parse_json_body(request.body))
        return self.detokenize(proto.parse_json_body(request.body))

    def error(self, error: proto.ApiError) -> Response:
        return Response(error.status, proto.error_body(error, self.settings.error_shape))

    # tokenizer endpoints ---------------------------------------------------------------------

    def tokenize(self, body: dict[str, Any]) -> Response:
        if body.get("model") is not None:
            proto.resolve_model(body, self.ctx)
        if "messages" in body:
            _, ids, _ = proto.chat_prompt(body, self.ctx)
        elif isinstance(body.get("prompt"), str):
            ids = textgen.encode(body["prompt"])
        else:
            raise proto.ApiError(400, "Either `prompt` or `messages` must be given.")
        strs = [textgen.token_text(t) for t in ids] if body.get("return_token_strs") else None
        data = {
            "count": len(ids),
            "max_model_len": self.plan.max_model_len,
            "tokens": ids,
            "token_strs": strs,
        }
        return Response(200, proto.dumps(data))

    def detokenize(self, body: dict[str, Any]) -> Response:
        if body.get("model") is not None:
            proto.resolve_model(body, self.ctx)
        tokens = body.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise proto.ApiError(400, "`tokens` must be a list of token ids.")
        try:
            text = textgen.decode(tokens)
        except ValueError as exc:
            raise proto.ApiError(400, str(exc)) from exc
        return Response(200, proto.dumps({"prompt": text}))

    # generation ------------------------------------------------------------------------------

    def generate(
        self,
        request: Request,
        parse: Callable[[dict[str, Any], proto.ServingContext], proto.GenerationRequest],
    ) -> HandlerResult:
        req = parse(proto.parse_json_body(request.body), self.ctx)
        fault = request.headers.get(FAULT_HEADER, "").strip().lower()
        if fault == FAULT_ERROR_500:
            return self.error(
                proto.ApiError(
                    500,
                    "EngineCore encountered an issue. See stack trace (above) for the root cause.",
                    "InternalServerError",
                )
            )
        generations = self._run_model(req)
        die = fault == FAULT_DIE_MIDSTREAM or (req.stream and self.die_midstream_armed)
        if die and not req.stream:
            self.on_crash()
        if req.stream:
            if die:
                self.die_midstream_armed = False
            return StreamResponse(self._stream(request, req, generations, die))
        if self.instant and self.metrics.running < self.plan.max_num_seqs and not self._queue:
            return self._answer_now(req, generations)
        return self._answer_later(req, generations)

    def _run_model(self, req: proto.GenerationRequest) -> list[textgen.Generation]:
        generations = []
        for index, ids in enumerate(req.prompt_ids):
            for choice in range(req.n):
                seed = req.seed if choice == 0 else (req.seed or 0) * 7919 + choice
                generations.append(
                    textgen.generate(
                        ids,
                        req.max_tokens[index],
                        seed=seed,
                        temperature=req.temperature if choice == 0 else max(req.temperature, 1e-6),
                        ignore_eos=req.ignore_eos,
                        min_tokens=req.min_tokens,
                        stop=req.stop,
                        thinking=req.thinking,
                    )
                )
        return generations

    def _body(self, req: proto.GenerationRequest, generations: Sequence[textgen.Generation]) -> bytes:
        if req.kind == "chat":
            return proto.dumps(proto.chat_response(req, generations, self.settings.reasoning_field))
        return proto.dumps(proto.completion_response(req, generations))

    def _answer_now(self, req: proto.GenerationRequest, generations: Sequence[textgen.Generation]) -> Response:
        self._enter(req, generations)
        self.metrics.running += 1
        self.peak_running = max(self.peak_running, self.metrics.running)
        try:
            body = self._body(req, generations)
        finally:
            self.metrics.running -= 1
        self._leave(req, generations, 0.0, 0.0)
        return Response(200, body)

    async def _answer_later(self, req: proto.GenerationRequest, generations: Sequence[textgen.Generation]) -> Response:
        await self._admit()
        started = time.monotonic()
        self._enter(req, generations)
        ttft = 0.0
        try:
            ttft = self._ttft_s(req.prompt_tokens)
            longest = max((g.completion_tokens for g in generations), default=0)
            await self._sleep(ttft + self._tpot_s() * max(0, longest - 1))
            return Response(200, self._body(req, generations))
        finally:
            self._release()
            self._leave(req, generations, ttft, time.monotonic() - started)

    # the streamed reply ------------------------------------------------------------------------

    async def _stream(
        self,
        request: Request,
        req: proto.GenerationRequest,
        generations: Sequence[textgen.Generation],
        die: bool,
    ) -> AsyncIterator[bytes]:
        await self._admit()
        started = time.monotonic()
        self._enter(req, generations)
        ttft = self._ttft_s(req.prompt_tokens)
        aborted = False
        try:
            await self._sleep(ttft)
            ttft = time.monotonic() - started
            writer = _ChunkWriter(req, self.settings.reasoning_field)
            for chunk in writer.opening(generations):
                yield chunk
            longest = max((len(g.all_ids) for g in generations), default=0)
            die_at = longest // 2 if die else -1
            tpot = self._tpot_s()
            for step in range(longest):
                if request.disconnected():
                    aborted = True
                    return
                produced = 0
                for index, gen in enumerate(generations):
                    if step < len(gen.all_ids):
                        produced += 1
                        event = writer.token_chunk(index, gen, step)
                        if event:
                            yield event
                self.metrics.add_generated(produced)
                if step == die_at:
                    await request.drained()
                    self.on_crash()
                if tpot > 0:
                    await asyncio.sleep(tpot)
                elif step % 64 == 63:
                    await asyncio.sleep(0)
            for chunk in writer.closing(generations):
                yield chunk
        except GeneratorExit:
            aborted = True  # the connection closed while we were waiting to send the next event
            raise
        finally:
            self._release()
            self._leave(req, generations, ttft, time.monotonic() - started, aborted=aborted, streamed=True)

    # accounting ------------------------------------------------------------------------------

    def _enter(self, req: proto.GenerationRequest, generations: Sequence[textgen.Generation]) -> None:
        """A request starts its prefill: count its prompt, its prefix-cache lookups and its KV blocks."""
        self.requests_seen += 1
        hits = queried = 0
        if self.plan.enable_prefix_caching:
            for ids in req.prompt_ids:
                found, total = self._lookup_blocks(ids)
                hits += found
                queried += total
        self.metrics.add_prompt(req.prompt_tokens, hits, queried)
        self.metrics.kv_tokens_in_use += req.prompt_tokens + sum(g.completion_tokens for g in generations)

    def _leave(
        self,
        req: proto.GenerationRequest,
        generations: Sequence[textgen.Generation],
        ttft: float,
        e2e: float,
        aborted: bool = False,
        streamed: bool = False,
    ) -> None:
        """A request ends: free its KV blocks and record how it finished.

        A streamed reply has counted its tokens as it sent them; the others count them here.
        """
        output = sum(g.completion_tokens for g in generations)
        if not streamed:
            self.metrics.add_generated(output)
        self.metrics.kv_tokens_in_use = max(0, self.metrics.kv_tokens_in_use - req.prompt_tokens - output)
        reason = "abort" if aborted else (generations[0].finish_reason if generations else "stop")
        self.metrics.finish(reason, ttft, e2e, output)

    def _lookup_blocks(self, ids: Sequence[int]) -> tuple[int, int]:
        """Prefix-cache blocks of this prompt already seen, out of its full blocks."""
        size = self.plan.block_size
        hits = 0
        chained = 0
        full = len(ids) // size
        if len(self._seen_blocks) > _SEEN_BLOCKS_LIMIT:
            self._seen_blocks.clear()
        for block in range(full):
            chained = hash((chained, tuple(ids[block * size : (block + 1) * size])))
            if chained in self._seen_blocks:
                hits += 1
            else:
                self._seen_blocks.add(chained)
        return hits, full

    async def _admit(self) -> None:
        """Take a batch slot, waiting in line while `--max-num-seqs` requests run."""
        if self.metrics.running < self.plan.max_num_seqs and not self._queue:
            self.metrics.running += 1
            self.peak_running = max(self.peak_running, self.metrics.running)
            return
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(slot)
        self.metrics.waiting += 1
        try:
            await slot  # the releasing request hands its slot over: `running` already counts us
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self._release()
            raise
        finally:
            self.metrics.waiting -= 1

    def _release(self) -> None:
        while self._queue:
            slot = self._queue.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self.metrics.running -= 1

    def _ttft_s(self, prompt_tokens: int) -> float:
        base = self.settings.ttft_ms
        return (base + base * prompt_tokens / PREFILL_TOKENS_PER_BASE_TTFT) / 1000

    def _tpot_s(self) -> float:
        crowd = 1 + 0.02 * max(0, self.metrics.running - 1)
        return self.settings.tpot_ms * crowd / 1000

    @staticmethod
    async def _sleep(seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def take_load_window(self) -> tuple[int, int, int]:
        """(peak running, waiting, requests) since the last call: what the engine reports as busy."""
        window = (max(self.peak_running, self.metrics.running), self.metrics.waiting, self.requests_seen)
        self.peak_running = self.metrics.running
        self.requests_seen = 0
        return window


class _ChunkWriter:
    """Builds the SSE events of one streamed reply, in vLLM's chunk shapes."""

    def __init__(self, req: proto.GenerationRequest, reasoning_field: str) -> None:
        self.req = req
        self.reasoning_field = reasoning_field
        self.chat = req.kind == "chat"
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        identity = f"chatcmpl-{req.request_id}" if self.chat else f"cmpl-{req.request_id}"
        self._head = (
            '{"id":'
            + json.dumps(identity)
            + ',"object":"'
            + kind
            + '","created":'
            + str(req.created)
            + ',"model":'
            + json.dumps(req.model, ensure_ascii=False)
            + ',"choices":['
        ).encode("utf-8")
        self._sent = [0] * max(1, len(req.prompt_ids) * req.n)
        self._think_end = textgen.SPECIAL_TOKENS[textgen.THINK_END]

    def _event(self, choices: bytes, usage: dict[str, Any] | None = None) -> bytes:
        tail = b"]" + (b',"usage":' + proto.dumps(usage) if usage is not None else b"") + b"}"
        return b"data: " + self._head + choices + tail + b"\n\n"

    def _usage_so_far(self) -> dict[str, Any] | None:
        if not self.req.continuous_usage:
            return None
        return proto.usage(self.req.prompt_tokens, sum(self._sent), details=False)

    def opening(self, generations: Sequence[textgen.Generation]) -> list[bytes]:
        """Chat starts with a role delta per choice; completions with the echoed prompt if asked."""
        if self.chat:
            return [
                self._event(
                    proto.dumps(
                        {
                            "index": i,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ),
                    self._usage_so_far(),
                )
                for i in range(len(generations))
            ]
        if self.req.echo:
            per_prompt = max(1, self.req.n)
            return [
                self._event(
                    proto.dumps(
                        {
                            "index": i,
                            "text": self.req.prompt_texts[i // per_prompt],
                            "logprobs": None,
                            "finish_reason": None,
                            "stop_reason": None,
                        }
                    )
                )
                for i in range(len(generations))
            ]
        return []

    def token_chunk(self, index: int, gen: textgen.Generation, step: int) -> bytes | None:
        """The event for token `step` of choice `index`; None for `</think>`, which vLLM swallows."""
        token_id = gen.all_ids[step]
        self._sent[index] += 1
        last = step == len(gen.all_ids) - 1
        if token_id == self._think_end and gen.reasoning_closed and step == len(gen.reasoning_ids) and not last:
            return None
        in_reasoning = step < len(gen.reasoning_ids)
        is_eos = gen.eos_id is not None and last
        text = "" if is_eos else textgen.token_text(token_id)
        choice: dict[str, Any] = {"index": index}
        logprobs = None
        if self.req.logprobs is not None and not is_eos:
            top = self.req.logprobs
            logprobs = (
                proto.chat_logprobs([token_id], top, offset=step)
                if self.chat
                else proto.completion_logprobs([token_id], top, offset=step)
            )
        if self.chat:
            delta: dict[str, Any] = (
                proto.reasoning_fields(text, self.reasoning_field) if in_reasoning else {"content": text}
            )
            choice.update({"delta": delta, "logprobs": logprobs, "finish_reason": gen.finish_reason if last else None})
        else:
            choice.update({"text": text, "logprobs": logprobs, "finish_reason": gen.finish_reason if last else None})
        if last:
            choice["stop_reason"] = gen.stop_reason
        elif not self.chat:
            choice["stop_reason"] = None
        return self._event(proto.dumps(choice), self._usage_so_far())

    def closing(self, generations: Sequence[textgen.Generation]) -> list[bytes]:
        events = []
        for index, gen in enumerate(generations):
            if not gen.all_ids:  # nothing generated: still say why it ended
                events.append(
                    self._event(
                        proto.dumps(
                            {
                                "index": index,
                                "delta": {},
                                "logprobs": None,
                                "finish_reason": gen.finish_reason,
                                "stop_reason": gen.stop_reason,
                            }
                            if self.chat
                            else {
                                "index": index,
                                "text": "",
                                "logprobs": None,
                                "finish_reason": gen.finish_reason,
                                "stop_reason": gen.stop_reason,
                            }
                        )
                    )
                )
        if self.req.include_usage:
            total = sum(g.completion_tokens for g in generations)
            events.append(self._event(b"", proto.usage(self.req.prompt_tokens, total, details=False)))
        events.append(b"data: [DONE]\n\n")
        return events
