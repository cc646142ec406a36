"""What we ask the server, as frozen values, and the exact HTTP request they become.

A request is built once into an `HttpRequest` (method, URL, headers, JSON body
bytes) and that very value is both sent and rendered as `curl`, so the command
an operator copies is the request that produced the reply on screen. Only
parameters that were set go into the body: servers differ in what they accept
(`transformers serve` answers 422 to `repetition_penalty`, vLLM 400 to
`stream_options` on a request that is not streamed), so the client never adds
a field the caller did not ask for. The API key is never stored here: the
request names the environment variable, and the client reads it when sending.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["chat", "completion"]
CHAT_PATH = "/v1/chat/completions"
COMPLETION_PATH = "/v1/completions"
MODELS_PATH = "/v1/models"


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Sampling:
    """The generation parameters the playground and `ask` expose; None means "the server's default".

    `logprobs` is the number of alternatives to list per token (0: only the
    chosen token's log-probability; None: none). Chat sends it as
    `logprobs: true` plus `top_logprobs`, completions as the integer
    `logprobs`, so callers need not know the two APIs differ.
    `extra` is merged into the body last (e.g. `{"ignore_eos": true}`,
    `{"chat_template_kwargs": {"enable_thinking": false}}`).
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    logprobs: int | None = None
    include_usage: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body_fields(self, kind: Kind, *, stream: bool) -> dict[str, Any]:
        """The body fields these parameters set, for a chat or completion request."""
        body: dict[str, Any] = {}
        for name in ("max_tokens", "temperature", "top_p", "seed", "presence_penalty", "frequency_penalty",
                     "repetition_penalty"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.stop:
            body["stop"] = list(self.stop)
        if self.logprobs is not None:
            if kind == "chat":
                body["logprobs"] = True
                if self.logprobs > 0:
                    body["top_logprobs"] = self.logprobs
            else:
                body["logprobs"] = self.logprobs
        if stream:
            body["stream"] = True
            if self.include_usage:
                body["stream_options"] = {"include_usage": True}
        return body


@dataclass(frozen=True)
class ChatRequest:
    """A `/v1/chat/completions` request: the turns so far, an optional system prompt, the parameters.

    `system` is sent as a leading system turn unless `messages` already starts
    with one. `model` None leaves the field out, for servers that serve one
    model and list none (`transformers serve` pinned to a folder).
    """

    messages: tuple[Message, ...]
    model: str | None = None
    system: str | None = None
    sampling: Sampling = field(default_factory=Sampling)

    kind: Kind = field(default="chat", init=False)

    @classmethod
    def single(cls, prompt: str, *, model: str | None = None, system: str | None = None,
               sampling: Sampling | None = None) -> ChatRequest:
        """A one-turn chat, as `ask` sends it."""
        return cls((Message("user", prompt),), model=model, system=system, sampling=sampling or Sampling())

    @property
    def path(self) -> str:
        return CHAT_PATH

    def all_messages(self) -> list[Message]:
        turns = list(self.messages)
        if self.system and not (turns and turns[0].role == "system"):
            turns.insert(0, Message("system", self.system))
        return turns

    def body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model:
            body["model"] = self.model
        body["messages"] = [message.to_json() for message in self.all_messages()]
        body.update(self.sampling.body_fields("chat", stream=stream))
        body.update(self.sampling.extra)
        return body


@dataclass(frozen=True)
class CompletionRequest:
    """A `/v1/completions` request: a raw prompt, for base models and exact-length tests."""

    prompt: str
    model: str | None = None
    sampling: Sampling = field(default_factory=Sampling)

    kind: Kind = field(default="completion", init=False)

    @property
    def path(self) -> str:
        return COMPLETION_PATH

    def body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model:
            body["model"] = self.model
        body["prompt"] = self.prompt
        body.update(self.sampling.body_fields("completion", stream=stream))
        body.update(self.sampling.extra)
        return body


GenerationRequest = ChatRequest | CompletionRequest


@dataclass(frozen=True)
class HttpRequest:
    """The exact request on the wire, minus the API key, which is named (`api_key_env`) and never held."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    api_key_env: str | None = None
    stream: bool = False

    def json_body(self) -> Any:
        """The body parsed back (for logs and tests); None for a GET."""
        return None if self.body is None else json.loads(self.body)


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The JSON body bytes: UTF-8, non-ASCII kept readable (Chinese prompts stay legible in `curl`)."""
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8")


def build_http_request(
    api_root: str,
    request: GenerationRequest,
    *,
    stream: bool,
    headers: Sequence[tuple[str, str]] = (),
    api_key_env: str | None = None,
) -> HttpRequest:
    """The POST for a chat or completion request against the server whose root URL is `api_root`."""
    all_headers = (("Content-Type", "application/json"), *headers)
    if stream:
        all_headers = (*all_headers, ("Accept", "text/event-stream"))
    return HttpRequest(
        method="POST",
        url=api_root.rstrip("/") + request.path,
        headers=tuple(all_headers),
        body=encode_body(request.body(stream=stream)),
        api_key_env=api_key_env,
        stream=stream,
    )


def normalize_root(url: str) -> str:
    """The server root from what an operator types: `host:8000`, `http://host:8000/`, `…/v1`."""
    root = url.strip()
    if "://" not in root:
        root = "http://" + root
    root = root.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return root
