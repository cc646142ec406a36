"""A deterministic toy tokenizer and text generator for the simulated server.

The console counts tokens (usage, throughput, TPOT) and compares what
`/tokenize` says with what the server reports, so counts must be exact and
agree everywhere; they need not match Qwen's real BPE. The tokenizer is lossless
(`decode(encode(t)) == t` for any text):

- Qwen's special tokens keep their real ids (`<|im_end|>` is 151645, `</think>` 151668);
- words from the generator's own corpus are one token each (with or without a leading space);
- any other printable ASCII costs one token per two characters;
- everything else (Chinese, emoji, control bytes) costs one token per UTF-8 byte.

Generation picks sentences from a small corpus about serving LLMs on NPUs with a
random generator seeded by the prompt (and the request's seed, when sampling),
so the same request always gets the same reply.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
THINK_START = "<think>"
THINK_END = "</think>"
SPECIAL_TOKENS: dict[str, int] = {
    ENDOFTEXT: 151643,
    IM_START: 151644,
    IM_END: 151645,
    THINK_START: 151667,
    THINK_END: 151668,
}
_SPECIAL_BY_ID = {token_id: text for text, token_id in SPECIAL_TOKENS.items()}
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
_PRETOKEN_RE = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")

_BYTE_BASE = 0  # ids 0..255: raw UTF-8 bytes
_ASCII_BASE = 256  # ids 256..: one or two printable ASCII characters
_PRINTABLE = [chr(code) for code in range(32, 127)]
_ASCII_IDS = {ch: _ASCII_BASE + i for i, ch in enumerate(_PRINTABLE)}
_PAIR_BASE = _ASCII_BASE + len(_PRINTABLE)
_WORD_BASE = 10000  # ids 10000..: whole corpus pieces

ANSWER_SENTENCES = (
    "The NPU is ready to serve requests.",
    "Ascend chips keep the model weights in HBM next to the compute units.",
    "A larger KV cache lets the server keep more requests running at the same time.",
    "The first token arrives after the prompt has been processed in one prefill pass.",
    "Each following token costs one decode step of the whole batch.",
    "Graph capture trades a longer start for faster decode steps.",
    "If the log shows an error code, look it up in the CANN error reference first.",
    "Tensor parallelism splits every layer across several chips that talk over HCCS.",
    "Lowering the memory utilization leaves room for other processes on the same chip.",
    "A shorter maximum model length frees memory for more concurrent requests.",
    "The benchmark measures time to first token, time per output token and throughput.",
    "Precision checks compare the NPU output with a CPU reference run of the same model.",
    "Dequantized weights take twice the space of the FP8 checkpoint on disk.",
    "Prefix caching reuses the KV blocks of a prompt that the server has already seen.",
    "Chunked prefill lets long prompts share the batch with running decodes.",
    "The operator watches power and temperature rise as the load grows.",
    "Here is a short answer to your question.",
    "In short, the setup looks healthy and the model answers as expected.",
    "Let me explain this step by step.",
    "First, check that every chip reports OK in the device table.",
    "Second, start the server and wait until the application startup is complete.",
    "Third, send a short prompt and read the reply and its timings.",
    "Finally, save the evidence of the run so the report can cite it.",
    "The capital of France is Paris.",
    "One plus one equals two.",
    "Hello, I am a language model served by vLLM on an Ascend NPU.",
)
REASONING_SENTENCES = (
    "Okay, the user is asking a question and I should answer it clearly.",
    "Let me think about what they really need to know.",
    "First I should recall the relevant facts.",
    "Then I can put them in a short and useful order.",
    "Hmm, there might be a subtle point here about memory.",
    "Wait, I should double check that detail before I answer.",
    "That seems right, so the answer can be brief.",
    "I will give the main point first and then one practical tip.",
)


def _corpus_pieces() -> list[str]:
    pieces: set[str] = set()
    for sentence in ANSWER_SENTENCES + REASONING_SENTENCES:
        for text in (sentence, " " + sentence):
            pieces.update(_PRETOKEN_RE.findall(text))
    pieces.update({"\n", "\n\n", " "})
    return sorted(pieces)


_WORD_PIECES = _corpus_pieces()
_WORD_IDS = {piece: _WORD_BASE + i for i, piece in enumerate(_WORD_PIECES)}


def _encode_piece(piece: str, out: list[int]) -> None:
    word_id = _WORD_IDS.get(piece)
    if word_id is not None:
        out.append(word_id)
        return
    if all(" " <= ch <= "~" for ch in piece):
        for start in range(0, len(piece), 2):
            chunk = piece[start : start + 2]
            if len(chunk) == 1:
                out.append(_ASCII_IDS[chunk])
            else:
                first, second = ord(chunk[0]) - 32, ord(chunk[1]) - 32
                out.append(_PAIR_BASE + first * len(_PRINTABLE) + second)
        return
    out.extend(_BYTE_BASE + b for b in piece.encode("utf-8"))


def encode(text: str) -> list[int]:
    """Token ids of `text`; special-token strings become their single ids."""
    ids: list[int] = []
    for part in _SPECIAL_RE.split(text):
        if not part:
            continue
        special = SPECIAL_TOKENS.get(part)
        if special is not None:
            ids.append(special)
            continue
        for piece in _PRETOKEN_RE.findall(part):
            _encode_piece(piece, ids)
    return ids


@functools.lru_cache(maxsize=65536)
def _token_bytes(token_id: int) -> bytes:
    """The bytes of one token id (cached: the hot path decodes the same few hundred ids again and again)."""
    if token_id in _SPECIAL_BY_ID:
        return _SPECIAL_BY_ID[token_id].encode("utf-8")
    if _BYTE_BASE <= token_id < _ASCII_BASE:
        return bytes([token_id])
    if _ASCII_BASE <= token_id < _PAIR_BASE:
        return _PRINTABLE[token_id - _ASCII_BASE].encode("ascii")
    if _PAIR_BASE <= token_id < _PAIR_BASE + len(_PRINTABLE) ** 2:
        first, second = divmod(token_id - _PAIR_BASE, len(_PRINTABLE))
        return (_PRINTABLE[first] + _PRINTABLE[second]).encode("ascii")
    index = token_id - _WORD_BASE
    if 0 <= index < len(_WORD_PIECES):
        return _WORD_PIECES[index].encode("utf-8")
    raise ValueError(f"token id {token_id} is out of vocabulary")


def is_valid_token(token_id: int) -> bool:
    try:
        _token_bytes(token_id)
    except ValueError:
        return False
    return True


def decode(token_ids: Sequence[int], skip_special_tokens: bool = False) -> str:
    """Text of `token_ids`; raises ValueError for an id the vocabulary does not have."""
    data = b"".join(_token_bytes(t) for t in token_ids if not (skip_special_tokens and t in _SPECIAL_BY_ID))
    return data.decode("utf-8", errors="replace")


def token_text(token_id: int) -> str:
    """One token's own text, as a streamed delta shows it."""
    return _token_bytes(token_id).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def render_chat_prompt(
    messages: Sequence[ChatMessage],
    add_generation_prompt: bool = True,
    default_system: str | None = None,
    thinking: bool = False,
) -> str:
    """The ChatML prompt that Qwen's chat template produces for `messages`."""
    parts: list[str] = []
    if default_system is not None and (not messages or messages[0].role != "system"):
        parts.append(f"{IM_START}system\n{default_system}{IM_END}\n")
    for message in messages:
        parts.append(f"{IM_START}{message.role}\n{message.content}{IM_END}\n")
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
        if thinking:
            parts.append(f"{THINK_START}\n")
    return "".join(parts)


@dataclass(frozen=True)
class Generation:
    """The tokens a request produces, split into the reasoning and the answer part."""

    reasoning_ids: tuple[int, ...]
    content_ids: tuple[int, ...]
    finish_reason: str
    stop_reason: str | None
    eos_id: int | None
    reasoning_closed: bool = False

    @property
    def all_ids(self) -> tuple[int, ...]:
        """Every generated id in order, the `</think>` marker and the final EOS included."""
        marker = (SPECIAL_TOKENS[THINK_END],) if self.reasoning_closed else ()
        eos = (self.eos_id,) if self.eos_id is not None else ()
        return self.reasoning_ids + marker + self.content_ids + eos

    @property
    def completion_tokens(self) -> int:
        return len(self.all_ids)


def _rng(prompt_ids: Sequence[int], seed: int | None, temperature: float) -> random.Random:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(",".join(map(str, prompt_ids)).encode("ascii"))
    if seed is not None and temperature > 0:
        digest.update(f"|seed={seed}".encode("ascii"))
    return random.Random(int.from_bytes(digest.digest(), "big"))


_SENTENCE_IDS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}


def _sentence_ids(sentence: str, first: bool) -> tuple[int, ...]:
    """Token ids of one corpus sentence, with a joining space unless it opens the text."""
    cached = _SENTENCE_IDS.get(sentence)
    if cached is None:
        cached = (tuple(encode(sentence)), tuple(encode(" " + sentence)))
        _SENTENCE_IDS[sentence] = cached
    return cached[0] if first else cached[1]


def _sentences(rng: random.Random, corpus: Sequence[str], at_least: int, opening: bool) -> list[int]:
    """Whole random corpus sentences adding up to at least `at_least` tokens.

    Encoding sentence by sentence gives the same ids as encoding the joined
    text, because the pre-tokenizer always splits before a space.
    """
    ids: list[int] = []
    while len(ids) < at_least:
        ids.extend(_sentence_ids(corpus[rng.randrange(len(corpus))], first=opening and not ids))
    return ids


def generate(
    prompt_ids: Sequence[int],
    max_tokens: int,
    *,
    seed: int | None = None,
    temperature: float = 1.0,
    ignore_eos: bool = False,
    min_tokens: int = 0,
    stop: Sequence[str] = (),
    thinking: bool = False,
    eos_id: int = SPECIAL_TOKENS[IM_END],
) -> Generation:
    """Produce up to `max_tokens` tokens for `prompt_ids`, deterministically.

    Without `ignore_eos` the reply ends on its own at the end of a sentence,
    after 24-120 tokens (never before `min_tokens`), with an EOS token that is
    counted but not shown, as in vLLM; a reply that would not fit is cut at
    `max_tokens` (`finish_reason` "length"). A thinking reply spends about a third
    of its tokens on reasoning, then `</think>`, a blank line and the answer. A
    `stop` string cuts the answer before it.
    """
    rng = _rng(prompt_ids, seed, temperature)
    budget = max(0, max_tokens)
    closed = thinking
    target = budget if ignore_eos else max(rng.randint(24, 120), min_tokens)
    reasoning: list[int] = []
    if thinking:
        reasoning = _sentences(rng, REASONING_SENTENCES, max(1, target // 3), opening=True)
    # Two single newlines, not one "\n\n" piece: that is how encode() splits "\n\nThe".
    content: list[int] = [_WORD_IDS["\n"], _WORD_IDS["\n"]] if reasoning else []
    used = len(reasoning) + (1 if reasoning else 0)
    content.extend(_sentences(rng, ANSWER_SENTENCES, target - used - len(content), opening=True))
    total = used + len(content)
    if not ignore_eos and total + 1 <= budget:
        finish_reason, final_eos = "stop", eos_id
    else:
        finish_reason, final_eos = "length", None
        if len(reasoning) >= budget:
            reasoning, content, closed = reasoning[:budget], [], False
        else:
            content = content[: max(0, budget - len(reasoning) - (1 if reasoning else 0))]
    stop_reason: str | None = None
    if stop:
        cut = _apply_stop(content, stop)
        if cut is not None:
            content, stop_reason = cut
            finish_reason, final_eos = "stop", None
    return Generation(tuple(reasoning), tuple(content), finish_reason, stop_reason, final_eos, closed)


def _apply_stop(content: list[int], stop: Sequence[str]) -> tuple[list[int], str] | None:
    """Cut `content` at the first stop string; the tokens that completed it are dropped."""
    text = ""
    for index, token_id in enumerate(content):
        text += token_text(token_id)
        for stop_text in stop:
            if stop_text and stop_text in text:
                return content[:index], stop_text
    return None


def fake_logprob(position: int, token_id: int) -> float:
    """A plausible, deterministic log-probability for a chosen token (rank 1)."""
    digest = hashlib.blake2b(f"{position}:{token_id}".encode("ascii"), digest_size=2).digest()
    return -round(int.from_bytes(digest, "big") / 65535 * 1.5, 4)


def alternatives(position: int, token_id: int, count: int) -> list[tuple[int, float]]:
    """`count` other candidate tokens with lower log-probabilities than the chosen one."""
    best = fake_logprob(position, token_id)
    rng = random.Random(position * 1_000_003 + token_id)
    picks: list[tuple[int, float]] = []
    seen = {token_id}
    while len(picks) < count:
        candidate = _WORD_BASE + rng.randrange(len(_WORD_PIECES))
        if candidate in seen:
            continue
        seen.add(candidate)
        best -= round(0.5 + rng.random() * 1.5, 4)
        picks.append((candidate, round(best, 4)))
    return picks
