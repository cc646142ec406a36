"""API mode: when only the server reaches the device, compare its top-k logprobs with the CPU reference.

The server is asked about the *reference tokenizer's* token ids (a completions `prompt` given as a list of
ids), so both sides see the same ids and every prompt position is teacher forced. Three ways, tried in
order per prompt:

1. vLLM's `prompt_logprobs: k` (+ `logprobs: k`, `max_tokens: 1`): per prompt position
   `{token_id: {logprob, rank, decoded_token}}`, the first null; the generated token's `top_logprobs` add
   the last position. Keys are ids, so nothing is lost to text.
2. `echo: true` + `logprobs: k` (OpenAI legacy completions): `top_logprobs` for the prompt (first null)
   and the generated token, keyed by token *text*; compared by decoding the reference's ids.
3. Neither (`transformers serve` ignores `logprobs`, `echo` and rejects id prompts): then
   `NO_LOGPROBS_SENTENCE` says so, and the one thing an API without logprobs still shows is compared: its
   greedy (`temperature: 0`) continuation, re-encoded with the reference tokenizer and teacher forced
   through the reference, gives top-1 agreement on the generated tokens (top-5 stays null).

Only top-1 agreement (raw and tie-aware, the latter from the reference's logits) and top-5 overlap can be
computed from top-k logprobs; cosine, MSE, KL and the layers need full logits and stay null. Stdlib HTTP
(urllib) with a timeout on every call: the stage Python may have nothing but torch and transformers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.stages.precision.compare import PositionResult, PromptResult
from tui.stages.precision.loading import PrecisionInputError, PrecisionRunError
from tui.stages.precision.metrics import TOP_K, top1_tie_aware, top_k_ids, top_k_overlap

TIMEOUT_S = 60.0
GREEDY_TOKENS = 8
NO_LOGPROBS_SENTENCE = ("the server at {url} returns no prompt logprobs (neither vLLM's prompt_logprobs nor echo with "
                        "logprobs), so top-5 overlap cannot be measured through its API; only top-1 agreement on its "
                        "greedy continuation is compared")

Key = int | str


@dataclass
class ServerPrompt:
    """What the server said about one prompt: top-k per reference position, keyed by id or by text."""

    source: str  # "prompt_logprobs" | "echo" | "greedy"
    top: dict[int, list[tuple[Key, float]]] = field(default_factory=dict)
    continuation: list[int] = field(default_factory=list)


def base_url(url: str) -> str:
    """`http://host:port` from any of `host:port`, `http://host:port/`, `http://host:port/v1`."""
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    if text.endswith("/v1"):
        text = text[: -len("/v1")]
    return text


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = TIMEOUT_S,
              api_key: str | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body or the text) of a GET (body None) or a JSON POST; URLError is raised."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = int(error.code)
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload.get("message")))
        if isinstance(error, dict):
            return str(error.get("message", error))
        if error is not None:
            return str(error)
    return str(payload)[:300]


class ApiClient:
    """The few calls API mode makes, each with a timeout; every failure becomes a `PrecisionRunError`."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S, api_key: str | None = None) -> None:
        self.url = base_url(url)
        self.timeout = timeout
        self.api_key = api_key

    def call(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            return http_json(self.url + path, body, self.timeout, self.api_key)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrecisionRunError(f"cannot reach the server at {self.url}{path}: {reason}; is it running, "
                                    "and is --url right?") from exc

    def served_model(self) -> str | None:
        """The first id of /v1/models; None when the list is empty (`transformers serve MODEL` lists nothing
        but serves MODEL to requests that name none, as vLLM serves its first model)."""
        status, payload = self.call("/v1/models")
        data = payload.get("data") if isinstance(payload, dict) else None
        if status != 200 or not isinstance(data, list):
            raise PrecisionRunError(f"the server at {self.url} did not answer /v1/models with a model list (HTTP "
                                    f"{status}: {_error_text(payload)}); check --url, or pass --served-model")
        if not data or not isinstance(data[0], dict) or not data[0].get("id"):
            return None
        return str(data[0]["id"])

    def completion(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """(the first choice, "") on success, else (None, the server's reason)."""
        status, payload = self.call("/v1/completions", body)
        if status != 200 or not isinstance(payload, dict):
            return None, f"HTTP {status}: {_error_text(payload)}"
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None, "the reply has no choices"
        choice = dict(choices[0])
        if "prompt_logprobs" not in choice and isinstance(payload.get("prompt_logprobs"), list):
            choice["prompt_logprobs"] = payload["prompt_logprobs"]  # where some versions put it
        return choice, ""


def _sorted_top(entries: dict[Key, float], k: int) -> list[tuple[Key, float]]:
    """The k best (key, logprob) pairs: vLLM adds the prompt's own token when it ranks below k; drop it."""
    return sorted(entries.items(), key=lambda item: -item[1])[:k]


def _generated_top(choice: dict[str, Any], index: int, k: int) -> list[tuple[Key, float]] | None:
    logprobs = choice.get("logprobs")
    tops = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    if not isinstance(tops, list) or len(tops) <= index or not isinstance(tops[index], dict):
        return None
    return _sorted_top({str(key): float(value) for key, value in tops[index].items()}, k)


def parse_prompt_logprobs(choice: dict[str, Any], n_tokens: int, k: int) -> dict[int, list[tuple[Key, float]]] | None:
    """Reference position -> top-k from vLLM's `prompt_logprobs` (+ the generated token); None if absent."""
    entries = choice.get("prompt_logprobs")
    if not isinstance(entries, list) or len(entries) < n_tokens:
        return None
    top: dict[int, list[tuple[Key, float]]] = {}
    for index in range(1, n_tokens):
        entry = entries[index]
        if not isinstance(entry, dict):
            continue
        pairs: dict[Key, float] = {}
        for key, info in entry.items():
            value = info.get("logprob") if isinstance(info, dict) else info
            if isinstance(value, (int, float)):
                pairs[int(key)] = float(value)
        top[index - 1] = _sorted_top(pairs, k)
    last = _generated_top(choice, 0, k)
    if last is not None:
        top[n_tokens - 1] = last
    return top or None


def parse_echo_logprobs(choice: dict[str, Any], n_tokens: int, k: int) -> dict[int, list[tuple[Key, float]]] | None:
    """Reference position -> top-k (keyed by token text) from echo + logprobs; None if absent."""
    logprobs = choice.get("logprobs")
    tops = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    if not isinstance(tops, list) or len(tops) < n_tokens:
        return None
    top: dict[int, list[tuple[Key, float]]] = {}
    for index in range(1, min(len(tops), n_tokens + 1)):
        entry = _generated_top(choice, index, k)
        if entry:
            top[index - 1] = entry
    return top or None


def fetch_prompt(client: ApiClient, model: str | None, ids: Sequence[int], text: str, k: int,
                 encode: Callable[[str], list[int]], greedy_tokens: int = GREEDY_TOKENS) -> ServerPrompt:
    """Ask the server about one prompt, the best way it supports (see the module docstring).

    `model` None sends no model name: the server then uses the one it serves.
    """
    named: dict[str, Any] = {"model": model} if model else {}
    base: dict[str, Any] = {**named, "prompt": list(ids), "max_tokens": 1, "temperature": 0}
    choice, _ = client.completion({**base, "logprobs": k, "prompt_logprobs": k})
    if choice is not None:
        parsed = parse_prompt_logprobs(choice, len(ids), k)
        if parsed:
            return ServerPrompt("prompt_logprobs", parsed)
    choice, why = client.completion({**base, "logprobs": k, "echo": True})
    if choice is not None:
        parsed = parse_echo_logprobs(choice, len(ids), k)
        if parsed:
            return ServerPrompt("echo", parsed)
    greedy = {**named, "prompt": list(ids), "max_tokens": greedy_tokens, "temperature": 0}
    choice, why = client.completion(greedy)
    if choice is None:  # a server that takes only text (transformers serve): the same ids, as text
        choice, why = client.completion({**greedy, "prompt": text})
    if choice is None:
        raise PrecisionRunError(f"the server at {client.url} refused a completion request ({why}); check that "
                                "it serves /v1/completions for this model")
    reply = choice.get("text")
    continuation = encode(reply) if isinstance(reply, str) and reply else []
    return ServerPrompt("greedy", {}, continuation)


def compare_position(position: int, input_token: int, ref_row: Any, server_top: list[tuple[Key, float]] | None,
                     decode: Callable[[int], str], cand_token: int | None = None) -> PositionResult:
    """Top-1 (raw, tie-aware) and top-5 overlap of one position from the server's top-k or greedy token."""
    ref_top = top_k_ids(ref_row)
    if cand_token is not None:
        match = cand_token == ref_top[0]
        return PositionResult(position, input_token, ref_top[0], cand_token, match,
                              top1_tie_aware(ref_row, cand_token, ref_top), None)
    if not server_top:
        return PositionResult(position, input_token, ref_top[0], None, None, None, None)
    keys = [key for key, _ in server_top]
    if isinstance(keys[0], int):
        cand_ids = [int(key) for key in keys]
        overlap = top_k_overlap(ref_top, cand_ids, min(TOP_K, len(cand_ids))) if len(cand_ids) >= TOP_K else None
        return PositionResult(position, input_token, ref_top[0], cand_ids[0], cand_ids[0] == ref_top[0],
                              top1_tie_aware(ref_row, cand_ids[0], ref_top), overlap)
    ref_texts = [decode(i) for i in ref_top]
    cand_texts = [str(key) for key in keys]
    overlap = (len(set(ref_texts) & set(cand_texts[:TOP_K])) / TOP_K) if len(cand_texts) >= TOP_K else None
    match = cand_texts[0] == ref_texts[0]
    cand_id = ref_top[ref_texts.index(cand_texts[0])] if cand_texts[0] in ref_texts else None
    tie = match or (cand_id is not None and top1_tie_aware(ref_row, cand_id, ref_top))
    return PositionResult(position, input_token, ref_top[0], cand_texts[0], match, tie, overlap)


def compare_api(prompts: Sequence[str], id_lists: Sequence[Sequence[int]], server: Sequence[ServerPrompt],
                reference_logits: Sequence[Any], decode: Callable[[int], str]) -> list[PromptResult]:
    """Per prompt, every position the server gave evidence for, against the reference's logits.

    `reference_logits[i]` covers the prompt's ids followed by the server's greedy continuation (if any).
    """
    results = []
    for prompt, ids, told, logits in zip(prompts, id_lists, server, reference_logits, strict=True):
        full = list(ids) + list(told.continuation)
        positions = []
        if told.source == "greedy":
            for offset, token in enumerate(told.continuation):
                position = len(ids) - 1 + offset
                positions.append(compare_position(position, full[position], logits[position], None, decode, token))
        else:
            for position in range(len(ids)):
                positions.append(compare_position(position, full[position], logits[position],
                                                  told.top.get(position), decode))
        results.append(PromptResult(prompt=prompt, token_ids=list(ids), positions=positions))
    return results


def check_top_k(k: int) -> int:
    if not 1 <= k <= 20:
        raise PrecisionInputError(f"--top-k must be 1-20 (vLLM's default --max-logprobs is 20), got {k}")
    return k
