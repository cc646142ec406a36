"""The OpenAI-compatible wire format of vLLM 0.18: request validation and response bodies.

Kept free of I/O so each shape can be checked alone. Validation errors read like
vLLM's: a missing or mistyped field gives the pydantic error list as the
message (vLLM turns FastAPI's 422 into a 400 `BadRequestError`), an unknown
model a 404 `NotFoundError`, a prompt plus `max_tokens` beyond the context a 400
with vLLM's "maximum context length" sentence. Error bodies are nested
(`{"error": {...}}`, vLLM >= 0.10.1) or flat (older vLLM) per settings.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.sim import textgen
from tui.sim.settings import frozen, wall_time
from tui.sim.textgen import ChatMessage, Generation

_FROZEN_IDS: dict[str, itertools.count[int]] = {}


def new_id(kind: str = "request") -> str:
    """An id as vLLM makes them (32 hex digits); a counter per `kind` when the sim is frozen."""
    if not frozen():
        return uuid.uuid4().hex
    return f"{next(_FROZEN_IDS.setdefault(kind, itertools.count(1))):032x}"


class ApiError(Exception):
    """A request the server refuses; carries the HTTP status and vLLM's error type."""

    def __init__(self, status: int, message: str, error_type: str = "BadRequestError") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def dumps(value: Any) -> bytes:
    """Compact JSON as pydantic's `model_dump_json` writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(error: ApiError, shape: str = "nested") -> bytes:
    info = {"message": error.message, "type": error.error_type, "param": None, "code": error.status}
    if shape == "flat":
        return dumps({"object": "error", **info})
    return dumps({"error": info})


def _pydantic_error(kind: str, loc: Sequence[str | int], msg: str, value: Any) -> ApiError:
    location = "(" + ", ".join(repr(part) for part in loc) + ("," if len(loc) == 1 else "") + ")"
    return ApiError(400, f"[{{'type': '{kind}', 'loc': {location}, 'msg': '{msg}', 'input': {value!r}}}]")


def parse_json_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a POST body, or the 400 FastAPI/vLLM give for anything else."""
    try:
        value = json.loads(body) if body else None
    except ValueError as exc:
        reason = str(exc).split(":")[0]
        raise ApiError(
            400,
            f"[{{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', "
            f"'input': {{}}, 'ctx': {{'error': '{reason}'}}}}]",
        ) from exc
    if not isinstance(value, dict):
        raise _pydantic_error(
            "model_attributes_type",
            ("body",),
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )
    return value


def _int(body: dict[str, Any], key: str, default: int | None) -> int | None:
    value = body.get(key, default)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _pydantic_error(
        "int_parsing",
        ("body", key),
        "Input should be a valid integer, unable to parse string as an integer",
        value,
    )


def _float(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _pydantic_error(
            "float_parsing",
            ("body", key),
            "Input should be a valid number, unable to parse string as a number",
            value,
        ) from None


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if value in (0, 1, "true", "false", "True", "False"):
        return value in (1, "true", "True")
    raise _pydantic_error("bool_parsing", ("body", key), "Input should be a valid boolean", value)


@dataclass(frozen=True)
class ServingContext:
    """What validation needs to know about the running server."""

    served_names: tuple[str, ...]
    max_model_len: int
    max_logprobs: int
    thinking_model: bool
    default_system: str | None
    force_include_usage: bool


@dataclass
class GenerationRequest:
    """One validated `/v1/completions` or `/v1/chat/completions` request."""

    kind: str  # "chat" or "completion"
    model: str
    prompt_ids: list[list[int]]
    prompt_texts: list[str]
    max_tokens: list[int]
    temperature: float
    seed: int | None
    stop: list[str]
    ignore_eos: bool
    min_tokens: int
    n: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    logprobs: int | None
    echo: bool
    prompt_logprobs: int | None
    thinking: bool
    request_id: str = field(default_factory=lambda: new_id())
    created: int = field(default_factory=lambda: int(wall_time()))

    @property
    def prompt_tokens(self) -> int:
        return sum(len(ids) for ids in self.prompt_ids)


def resolve_model(body: dict[str, Any], ctx: ServingContext) -> str:
    """The served name the request addresses; the first one when it names none."""
    model = body.get("model")
    if model is None or model == "":
        return ctx.served_names[0]
    if model not in ctx.served_names:
        raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError")
    return str(model)


def _stop_list(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise _pydantic_error("string_type", ("body", "stop", "str"), "Input should be a valid string", stop)


def _max_tokens(requested: int | None, prompt_len: int, ctx: ServingContext, unit: str) -> int:
    if requested is not None and requested < 1:
        raise ApiError(400, f"max_tokens must be at least 1, got {requested}.")
    if requested is None:
        if prompt_len >= ctx.max_model_len:
            raise ApiError(
                400,
                f"This model's maximum context length is {ctx.max_model_len} tokens. However, your request "
                f"has {prompt_len} input tokens. Please reduce the length of the input {unit}.",
            )
        return ctx.max_model_len - prompt_len
    if prompt_len + requested > ctx.max_model_len:
        raise ApiError(
            400,
            f"This model's maximum context length is {ctx.max_model_len} tokens. However, you requested "
            f"{prompt_len + requested} tokens ({prompt_len} in the messages, {requested} in the completion). "
            "Please reduce the length of the messages or completion.",
        )
    return requested


def _message_text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    raise _pydantic_error(
        "string_type", ("body", "messages", index, "content"), "Input should be a valid string", content
    )


def _common(body: dict[str, Any], ctx: ServingContext) -> dict[str, Any]:
    temperature = _float(body, "temperature", 1.0)
    if temperature is not None and temperature < 0:
        raise ApiError(400, f"temperature must be non-negative, got {temperature}.")
    n = _int(body, "n", 1) or 1
    if n < 1:
        raise ApiError(400, f"n must be at least 1, got {n}.")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise _pydantic_error("model_type", ("body", "stream_options"), "Input should be an object", stream_options)
    stream = _bool(body, "stream", False)
    if stream_options and not stream:
        raise ApiError(400, "Stream options can only be defined when `stream=True`.")
    return {
        "temperature": 1.0 if temperature is None else temperature,
        "seed": _int(body, "seed", None),
        "stop": _stop_list(body),
        "ignore_eos": _bool(body, "ignore_eos", False),
        "min_tokens": max(0, _int(body, "min_tokens", 0) or 0),
        "n": n,
        "stream": stream,
        "include_usage": bool(stream_options.get("include_usage")) or ctx.force_include_usage,
        "continuous_usage": bool(stream_options.get("continuous_usage_stats")),
    }


def chat_prompt(body: dict[str, Any], ctx: ServingContext) -> tuple[str, list[int], bool]:
    """Render `messages` with the Qwen chat template: (prompt text, its ids, thinking on?).

    Shared by chat requests and `/tokenize`, so both count the same tokens.
    """
    if "messages" not in body:
        raise _pydantic_error("missing", ("body", "messages"), "Field required", body)
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list):
        raise _pydantic_error("list_type", ("body", "messages"), "Input should be a valid list", raw_messages)
    messages = []
    for index, item in enumerate(raw_messages):
        if not isinstance(item, dict) or "role" not in item:
            raise _pydantic_error("missing", ("body", "messages", index, "role"), "Field required", item)
        messages.append(ChatMessage(str(item["role"]), _message_text(item.get("content"), index)))
    kwargs = body.get("chat_template_kwargs") or {}
    thinking = ctx.thinking_model and not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)
    prompt = textgen.render_chat_prompt(
        messages,
        add_generation_prompt=_bool(body, "add_generation_prompt", True),
        default_system=ctx.default_system,
        thinking=thinking,
    )
    return prompt, textgen.encode(prompt), thinking


def parse_chat(body: dict[str, Any], ctx: ServingContext) -> GenerationRequest:
    """Validate a chat request and render its prompt with the Qwen chat template."""
    prompt, ids, thinking = chat_prompt(body, ctx)
    common = _common(body, ctx)
    model = resolve_model(body, ctx)
    logprobs: int | None = None
    top = _int(body, "top_logprobs", None)
    if _bool(body, "logprobs", False):
        logprobs = top or 0
    elif top:
        raise ApiError(400, "when using `top_logprobs`, `logprobs` must be set to true.")
    if logprobs is not None and logprobs > ctx.max_logprobs:
        raise ApiError(400, f"Requested top_logprobs ({logprobs}) exceeds maximum allowed value ({ctx.max_logprobs}).")
    requested = _int(body, "max_completion_tokens", None)
    if requested is None:
        requested = _int(body, "max_tokens", None)
    max_tokens = _max_tokens(requested, len(ids), ctx, "messages")
    return GenerationRequest(
        kind="chat",
        model=model,
        prompt_ids=[ids],
        prompt_texts=[prompt],
        max_tokens=[max_tokens],
        logprobs=logprobs,
        echo=False,
        prompt_logprobs=_int(body, "prompt_logprobs", None),
        thinking=thinking,
        **common,
    )


def _completion_prompts(prompt: Any) -> tuple[list[list[int]], list[str]]:
    """Token ids and text of each prompt; `prompt` may be text, ids, or a list of either."""
    if isinstance(prompt, str):
        return [textgen.encode(prompt)], [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return [textgen.encode(p) for p in prompt], list(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        id_lists = [list(prompt)]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, list) for p in prompt):
        id_lists = [list(p) for p in prompt]
    else:
        raise ApiError(400, "Prompt must be a string, a list of strings, or a list of token ids.")
    try:
        texts = [textgen.decode(ids) for ids in id_lists]
    except (ValueError, TypeError) as exc:
        raise ApiError(400, f"Invalid prompt token ids: {exc}") from exc
    return id_lists, texts


def parse_completion(body: dict[str, Any], ctx: ServingContext) -> GenerationRequest:
    """Validate a completion request; `prompt` may be text, token ids, or a list of either."""
    if "prompt" not in body:
        raise _pydantic_error("missing", ("body", "prompt"), "Field required", body)
    common = _common(body, ctx)
    model = resolve_model(body, ctx)
    prompts, texts = _completion_prompts(body["prompt"])
    logprobs = _int(body, "logprobs", None)
    if logprobs is not None and logprobs > ctx.max_logprobs:
        raise ApiError(400, f"Requested logprobs of {logprobs}, which is greater than max allowed: {ctx.max_logprobs}")
    prompt_lp = _int(body, "prompt_logprobs", None)
    if prompt_lp is not None and prompt_lp > ctx.max_logprobs:
        raise ApiError(
            400, f"Requested prompt logprobs of {prompt_lp}, which is greater than max allowed: {ctx.max_logprobs}"
        )
    requested = _int(body, "max_tokens", 16)
    max_tokens = [_max_tokens(requested, len(ids), ctx, "prompt") for ids in prompts]
    return GenerationRequest(
        kind="completion",
        model=model,
        prompt_ids=prompts,
        prompt_texts=texts,
        max_tokens=max_tokens,
        logprobs=logprobs,
        echo=_bool(body, "echo", False),
        prompt_logprobs=prompt_lp,
        thinking=False,
        **common,
    )


# ---------------------------------------------------------------------------------- responses


def usage(prompt_tokens: int, completion_tokens: int, details: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
    if details:
        data["prompt_tokens_details"] = None
    return data


def _bytes_list(token: str) -> list[int]:
    return list(token.encode("utf-8"))


def chat_logprobs(ids: Sequence[int], top: int, offset: int = 0) -> dict[str, Any]:
    content = []
    for position, token_id in enumerate(ids, start=offset):
        token = textgen.token_text(token_id)
        content.append(
            {
                "token": token,
                "logprob": textgen.fake_logprob(position, token_id),
                "bytes": _bytes_list(token),
                "top_logprobs": [
                    {
                        "token": textgen.token_text(alt),
                        "logprob": lp,
                        "bytes": _bytes_list(textgen.token_text(alt)),
                    }
                    for alt, lp in [
                        (token_id, textgen.fake_logprob(position, token_id)),
                        *textgen.alternatives(position, token_id, max(0, top - 1)),
                    ]
                ][:top],
            }
        )
    return {"content": content}


def completion_logprobs(
    ids: Sequence[int], top: int, text_offset: int = 0, offset: int = 0, echoed_prompt: bool = False
) -> dict[str, Any]:
    """Completions `logprobs`; with `echoed_prompt` the first id opens an echoed prompt and, as in vLLM,
    has no logprob (null `token_logprobs` and `top_logprobs` entries): nothing comes before it."""
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    offsets: list[int] = []
    tops: list[dict[str, float] | None] = []
    cursor = text_offset
    for position, token_id in enumerate(ids, start=offset):
        token = textgen.token_text(token_id)
        tokens.append(token)
        offsets.append(cursor)
        cursor += len(token)
        if echoed_prompt and position == offset:
            token_logprobs.append(None)
            tops.append(None)
            continue
        lp = textgen.fake_logprob(position, token_id)
        token_logprobs.append(lp)
        alts = {token: lp}
        for alt, alt_lp in textgen.alternatives(position, token_id, max(0, top - 1)):
            alts.setdefault(textgen.token_text(alt), alt_lp)
        tops.append(alts if top else None)
    return {"text_offset": offsets, "token_logprobs": token_logprobs, "tokens": tokens, "top_logprobs": tops}


def prompt_logprobs(ids: Sequence[int], top: int) -> list[dict[str, Any] | None]:
    """vLLM's `prompt_logprobs`: None for the first token, then {id: {logprob, rank, decoded_token}}.

    Each entry holds the top `top` tokens; in the sim the prompt's own token is always rank 1, so there
    are exactly `top` entries (vLLM adds the prompt token as one more when it ranks below `top`).
    """
    out: list[dict[str, Any] | None] = [None]
    for position, token_id in enumerate(ids[1:], start=1):
        entry = {
            str(token_id): {
                "logprob": textgen.fake_logprob(-position, token_id),
                "rank": 1,
                "decoded_token": textgen.token_text(token_id),
            }
        }
        for rank, (alt, lp) in enumerate(textgen.alternatives(-position, token_id, max(0, top - 1)), start=2):
            entry.setdefault(str(alt), {"logprob": lp, "rank": rank, "decoded_token": textgen.token_text(alt)})
        out.append(entry)
    return out


def reasoning_fields(text: str | None, field_choice: str) -> dict[str, str | None]:
    """The reasoning text under `reasoning` (vLLM >= 0.15), `reasoning_content` (older), or both."""
    if field_choice == "reasoning":
        return {"reasoning": text}
    if field_choice == "reasoning_content":
        return {"reasoning_content": text}
    return {"reasoning": text, "reasoning_content": text}


def chat_response(req: GenerationRequest, generations: Sequence[Generation], field_choice: str) -> dict[str, Any]:
    choices = []
    for index, gen in enumerate(generations):
        reasoning = textgen.decode(gen.reasoning_ids) if req.thinking else None
        message: dict[str, Any] = {
            "role": "assistant",
            "content": textgen.decode(gen.content_ids),
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "tool_calls": [],
            **reasoning_fields(reasoning, field_choice),
        }
        ids = gen.reasoning_ids + gen.content_ids
        choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": None if req.logprobs is None else chat_logprobs(ids, req.logprobs),
                "finish_reason": gen.finish_reason,
                "stop_reason": gen.stop_reason,
                "token_ids": None,
            }
        )
    completion_tokens = sum(g.completion_tokens for g in generations)
    return {
        "id": f"chatcmpl-{req.request_id}",
        "object": "chat.completion",
        "created": req.created,
        "model": req.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(req.prompt_tokens, completion_tokens),
        "prompt_logprobs": None
        if req.prompt_logprobs is None
        else prompt_logprobs(req.prompt_ids[0], req.prompt_logprobs),
        "prompt_token_ids": None,
        "kv_transfer_params": None,
    }


def completion_response(req: GenerationRequest, generations: Sequence[Generation]) -> dict[str, Any]:
    choices = []
    per_prompt = max(1, req.n)
    for index, gen in enumerate(generations):
        prompt_index = index // per_prompt
        prompt_text = req.prompt_texts[prompt_index] if req.echo else ""
        text = prompt_text + textgen.decode(gen.content_ids)
        logprobs = None
        if req.logprobs is not None:
            ids = (list(req.prompt_ids[prompt_index]) if req.echo else []) + list(gen.content_ids)
            logprobs = completion_logprobs(ids, req.logprobs, echoed_prompt=req.echo)
        choices.append(
            {
                "index": index,
                "text": text,
                "logprobs": logprobs,
                "finish_reason": gen.finish_reason,
                "stop_reason": gen.stop_reason,
                "prompt_logprobs": (
                    None
                    if req.prompt_logprobs is None
                    else prompt_logprobs(req.prompt_ids[prompt_index], req.prompt_logprobs)
                ),
            }
        )
    completion_tokens = sum(g.completion_tokens for g in generations)
    return {
        "id": f"cmpl-{req.request_id}",
        "object": "text_completion",
        "created": req.created,
        "model": req.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage(req.prompt_tokens, completion_tokens),
        "kv_transfer_params": None,
    }


def models_response(served_names: Sequence[str], root: str, max_model_len: int, created: int) -> dict[str, Any]:
    data = []
    for name in served_names:
        data.append(
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": root,
                "parent": None,
                "max_model_len": max_model_len,
                "permission": [
                    {
                        "id": f"modelperm-{new_id('model_permission')}",
                        "object": "model_permission",
                        "created": created,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
        )
    return {"object": "list", "data": data}
