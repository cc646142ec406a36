"""A canned OpenAI-compatible server that answers GSM8K problems from a key, on a real loopback socket.

It finds which test problem a request asks (the last `Question:` of the chat's last user turn or
of the completion prompt), looks up the problem's reference, and answers in the way `KINDS` says
for that problem's index: right or wrong, with distracting numbers in the reasoning, a further
`Question:` the model made up, `\\boxed{}`, `The answer is N` or `#### N`, thousands separators and
dollar signs, a `<think>` block, no number at all, or HTTP 500. Streamed when the request says so.
`EXPECTED` says, per kind, whether each grader must count it right: the tests compute the exact
accuracy from this table, never from the graders under test.

The server runs in its own thread and event loop, so a test may call a subprocess (the CLI) while it
answers; `stop()` ends it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from typing import Any

from aiohttp import web

from tui.stages.accuracy.dataset import load_test_split

MODEL = "canned-gsm8k"

KINDS = (
    "right_phrase",
    "wrong_phrase",
    "money_thousands",
    "right_then_question",
    "boxed_then_number",
    "hash_then_number",
    "phrase_wrong_last_right",
    "decimal",
    "no_number",
    "think",
    "fail",
    "phrase_wrong_last_right",
    "boxed_then_number",
)
"""The answer kind of problem i is KINDS[i % len(KINDS)]."""

EXPECTED: dict[str, tuple[bool, bool, bool]] = {
    # kind: right for (aisbench, lm-eval, boxed)
    "right_phrase": (True, True, True),
    "wrong_phrase": (False, False, False),
    "money_thousands": (True, True, True),
    "right_then_question": (True, True, True),
    "boxed_then_number": (False, False, True),
    "hash_then_number": (False, True, True),
    "phrase_wrong_last_right": (True, False, False),
    "decimal": (True, True, True),
    "no_number": (False, False, False),
    "think": (True, True, True),
}
GRADER_COLUMN = {"aisbench": 0, "lm-eval": 1, "boxed": 2}


def kind_of(index: int) -> str:
    return KINDS[index % len(KINDS)]


def expected_counts(limit: int, grader: str) -> tuple[int, int, int, int]:
    """(graded, correct, extraction failures, failed requests) that the first `limit` problems must give."""
    kinds = [kind_of(index) for index in range(limit)]
    failed = kinds.count("fail")
    correct = sum(EXPECTED[kind][GRADER_COLUMN[grader]] for kind in kinds if kind != "fail")
    return limit - failed, correct, kinds.count("no_number"), failed


def reply_for(index: int, reference: str, chat: bool) -> str:
    """The canned reply of problem `index`, built around its reference answer."""
    ref = int(reference)
    steps = f"First, 3 + 4 = 7 and 12 * 5 = 60.\nThen we take {ref + 17} - 17 = {ref}.\n"
    trailing = 3 if ref != 3 else 4  # a distracting number after the answer, never the answer itself
    kind = kind_of(index)
    if kind == "right_phrase":
        return steps + f"The answer is {ref}"
    if kind == "wrong_phrase":
        return steps + f"Then 2 more, so {ref + 2}.\nThe answer is {ref + 2}"
    if kind == "money_thousands":
        return steps + f"So she makes ${ref:,} in total, and the answer is ${ref:,}."
    if kind == "right_then_question":
        return (steps + f"The answer is {ref}\n\nQuestion: A farmer has 12 cows and buys 7 more. How many cows "
                        "does he have?\nLet's think step by step\nAnswer:\n12 + 7 = 19\nThe answer is 19")
    if kind == "boxed_then_number":
        return steps + f"So the total is $\\boxed{{{ref:,}}}$.\nThat took {trailing} steps."
    if kind == "hash_then_number":
        return steps + f"#### {ref}\nI checked it {trailing} ways."
    if kind == "phrase_wrong_last_right":
        return steps + f"The answer is {ref + 5}. Wait, I added 5 twice; recounting, it is {ref}"
    if kind == "decimal":
        return steps + f"The answer is {ref}.00"
    if kind == "no_number":
        return "I am not able to work this one out."
    if kind == "think":
        if chat:
            return f"<think>Maybe {ref + 11}? The answer is {ref + 11}. No.</think>{steps}The answer is {ref}"
        return steps + f"The answer is {ref}"
    raise ValueError(kind)


_ASKED = re.compile(r"Question: (.*?)\nLet's think step by step\nAnswer:", re.DOTALL)


class CannedServer:
    """The server, its thread, and what it was asked (`requests`: the JSON bodies, in arrival order)."""

    def __init__(self, chunk_chars: int = 7) -> None:
        problems = load_test_split("gsm8k", None)
        self.by_question = {problem.question: problem for problem in problems}
        self.chunk_chars = chunk_chars
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> CannedServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        self.url = future.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _serve(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completion)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    # ---- handlers ----------------------------------------------------------------------------

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        return await self._answer(request, body, body["messages"][-1]["content"], chat=True)

    async def _completion(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        return await self._answer(request, body, body["prompt"], chat=False)

    async def _answer(self, request: web.Request, body: dict[str, Any], prompt: str, chat: bool
                      ) -> web.StreamResponse:
        asked = _ASKED.findall(prompt)
        problem = self.by_question.get(asked[-1]) if asked else None
        if problem is None:
            return web.json_response({"error": {"message": "not a GSM8K question I know"}}, status=400)
        if kind_of(problem.index) == "fail":
            return web.json_response({"object": "error", "message": "canned internal error"}, status=500)
        text = reply_for(problem.index, problem.reference, chat)
        finish = "length" if kind_of(problem.index) == "no_number" else "stop"  # it rambled to max_tokens
        if not body.get("stream"):
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            return web.json_response({"id": "x", "model": MODEL, "choices": [choice],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                                                "total_tokens": 10 + len(text.split())}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces = [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            choice = {"index": 0, "finish_reason": finish if last else None}
            if chat:
                choice["delta"] = {"content": piece}
            else:
                choice["text"] = piece
            await response.write(b"data: " + json.dumps({"model": MODEL, "choices": [choice]}).encode() + b"\n\n")
        usage = {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10}
        await response.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
