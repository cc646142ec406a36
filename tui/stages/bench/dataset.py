"""vLLM's random dataset: prompts of an exact number of tokens, seeded, with the output length to force.

The algorithm is `RandomDataset.sample` of `vllm/benchmarks/datasets/random.py`: input and output
lengths drawn uniformly from [⌊L(1−r)⌋, ⌈L(1+r)⌉] (input minus the tokens the tokenizer adds
itself), the prompt's ids taken as consecutive runs of the allowed (non-special) vocabulary
starting at a random offset, then decode → re-encode → truncate or pad, up to 10 times, because
N tokens do not always decode to text that re-encodes to N tokens. What stays inexact is counted
and reported, never hidden.

The tokenizer is the model's own (`--tokenizer DIR`, read with `tokenizers`, else `transformers`,
both imported only here) or, when there is no folder, the server's `/tokenize` and `/detokenize`
(vLLM and the simulator have them); then the allowed ids are those of a fixed word pool as the
server tokenizes it. Randomness is Python's `random.Random(seed)`, not numpy's generator, so the
prompts are reproducible but not byte-identical to vLLM's.
"""

from __future__ import annotations

import json
import math
import random
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MAX_RETRIES = 10
STABLE_LIMIT = 2000
_WORD = re.compile(r" [A-Za-z]{2,}")
HTTP_TIMEOUT_S = 10.0
WORD_POOL = (
    "the of and to in is was for on that with as by at from this be are or an have not which one had but all "
    "were they their there been has would when what some more will can other into could time only new about "
    "two over such after first any most where these made may many then them out way also years between used "
    "under three should each water system part work life world during well before through long house city "
    "number power model server token prompt answer device memory cache batch graph kernel chip rate speed "
    "light river mountain garden window paper market music letter story dinner morning evening question "
    "simple careful bright quiet strong gentle happy yellow purple orange silver golden winter summer autumn"
)


class DatasetError(Exception):
    """The dataset cannot be built (no tokenizer, a server that refuses); the sentence says what to do."""


class TokenCodec(Protocol):
    """What the dataset needs from a tokenizer."""

    source: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def allowed_ids(self) -> list[int]: ...

    def stable_ids(self) -> list[int]: ...

    def special_tokens_added(self) -> int: ...


class LocalTokenizer:
    """The model folder's tokenizer: `tokenizer.json` through `tokenizers`, else `transformers.AutoTokenizer`."""

    def __init__(self, folder: Path) -> None:
        self.source = f"tokenizer {folder}"
        self._fast: Any = None
        self._hf: Any = None
        if (folder / "tokenizer.json").is_file():
            try:
                import tokenizers
            except ImportError:
                pass
            else:
                try:
                    self._fast = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
                except Exception as exc:  # the library raises its own Exception type for a bad file
                    raise DatasetError(f"cannot read {folder / 'tokenizer.json'}: {exc}") from exc
                return
        try:
            import transformers
        except ImportError:
            raise DatasetError(
                f"cannot read the tokenizer in {folder}: install `tokenizers` (for tokenizer.json) or `transformers`"
            ) from None
        try:
            self._hf = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # transformers raises many types for a missing or bad folder
            raise DatasetError(f"cannot load a tokenizer from {folder}: {exc}") from exc

    def encode(self, text: str) -> list[int]:
        if self._fast is not None:
            return list(self._fast.encode(text, add_special_tokens=False).ids)
        return list(self._hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        if self._fast is not None:
            return str(self._fast.decode(list(ids), skip_special_tokens=False))
        return str(self._hf.decode(list(ids)))

    def allowed_ids(self) -> list[int]:
        """Every id of the base vocabulary except the special ones (vLLM's `allowed_tokens`)."""
        if self._fast is not None:
            size = int(self._fast.get_vocab_size(with_added_tokens=False))
            special = {index for index, token in self._fast.get_added_tokens_decoder().items() if token.special}
        else:
            size = int(self._hf.vocab_size)
            special = set(self._hf.all_special_ids)
        return [index for index in range(size) if index not in special]

    def stable_ids(self) -> list[int]:
        """Up to `STABLE_LIMIT` whole words with their leading space (`" the"`) that encode back to themselves."""
        found: list[int] = []
        for index in self.allowed_ids():
            text = self.decode([index])
            if _WORD.fullmatch(text) and self.encode(text) == [index]:
                found.append(index)
                if len(found) >= STABLE_LIMIT:
                    break
        return found

    def special_tokens_added(self) -> int:
        if self._fast is not None:
            return len(self._fast.encode("", add_special_tokens=True).ids)
        return int(self._hf.num_special_tokens_to_add())


class ServerTokenizer:
    """The server's own `/tokenize` and `/detokenize` (vLLM's, and the simulator's)."""

    def __init__(self, base_url: str, model: str, headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.source = f"server {self.base_url}/tokenize"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise DatasetError(
                f"{self.base_url}{path} answered {exc.code}; pass --tokenizer DIR (the model folder) instead"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DatasetError(f"{self.base_url}{path} failed ({exc}); pass --tokenizer DIR instead") from exc
        if not isinstance(data, dict):
            raise DatasetError(f"{self.base_url}{path} did not answer a JSON object; pass --tokenizer DIR instead")
        return data

    def encode(self, text: str) -> list[int]:
        tokens = self._post("/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": False})
        ids = tokens.get("tokens")
        if not isinstance(ids, list):
            raise DatasetError(f"{self.base_url}/tokenize gave no token list; pass --tokenizer DIR instead")
        return [int(i) for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._post("/detokenize", {"model": self.model, "tokens": list(ids)}).get("prompt", ""))

    def allowed_ids(self) -> list[int]:
        """The distinct ids of a fixed word pool, in order: the server's vocabulary is not listed anywhere."""
        seen: dict[int, None] = {}
        for word in WORD_POOL.split():
            for token in self.encode(" " + word):
                seen.setdefault(token)
        return list(seen)

    def stable_ids(self) -> list[int]:
        """The pool's words that the server encodes as one token each."""
        found: dict[int, None] = {}
        for word in WORD_POOL.split():
            tokens = self.encode(" " + word)
            if len(tokens) == 1:
                found.setdefault(tokens[0])
        return list(found)

    def special_tokens_added(self) -> int:
        return 0


@dataclass(frozen=True)
class Prompt:
    """One request of the dataset: its text, its length in tokens, and the output length to ask for."""

    text: str
    prompt_len: int
    output_len: int
    mismatch: int = 0
    """Tokens more (+) or fewer (−) than asked for, after the last retry."""


@dataclass(frozen=True)
class Dataset:
    prompts: tuple[Prompt, ...]
    source: str

    @property
    def inexact(self) -> int:
        """How many prompts could not be made exactly as long as asked."""
        return sum(1 for prompt in self.prompts if prompt.mismatch)


def _lengths(rng: random.Random, count: int, length: int, range_ratio: float, low_floor: int) -> list[int]:
    low = max(math.floor(length * (1 - range_ratio)), low_floor)
    high = max(math.ceil(length * (1 + range_ratio)), low_floor)
    return [rng.randint(low, high) for _ in range(count)]


def fit_to_length(codec: TokenCodec, ids: list[int], target: int, allowed: Sequence[int],
                  rng: random.Random) -> tuple[str, int, int]:
    """vLLM's `gen_prompt_decode_to_target_len`: (text, its length in tokens, mismatch)."""
    remaining = MAX_RETRIES
    while True:
        text = codec.decode(ids)
        ids = codec.encode(text)
        if remaining <= 0 or len(ids) == target:
            return text, len(ids), len(ids) - target
        if len(ids) < target:
            ids.extend(rng.choice(allowed) for _ in range(target - len(ids)))
        else:
            ids = ids[:target]
        remaining -= 1


def random_dataset(codec: TokenCodec, num_prompts: int, input_len: int, output_len: int, *,
                   range_ratio: float = 0.0, seed: int = 0) -> Dataset:
    """`num_prompts` prompts of `input_len` tokens (± range_ratio), each asking for `output_len` tokens."""
    if not 0.0 <= range_ratio < 1.0:
        raise DatasetError(f"the range ratio must be in [0, 1), got {range_ratio}")
    real_input = max(0, input_len - codec.special_tokens_added())
    if math.floor(real_input * (1 - range_ratio)) < 1:
        raise DatasetError(f"--random-input-len {input_len} leaves no room for a prompt; use at least 1 token more")
    allowed = codec.allowed_ids()
    if not allowed:
        raise DatasetError(f"the tokenizer ({codec.source}) has no ordinary tokens to build prompts from")
    rng = random.Random(seed)
    inputs = _lengths(rng, num_prompts, real_input, range_ratio, 0)
    outputs = _lengths(rng, num_prompts, output_len, range_ratio, 1)
    offsets = [rng.randrange(len(allowed)) for _ in range(num_prompts)]
    prompts = []
    stable: list[int] | None = None
    for index in range(num_prompts):
        ids = [allowed[(offsets[index] + index + k) % len(allowed)] for k in range(inputs[index])]
        text, length, mismatch = fit_to_length(codec, ids, inputs[index], allowed, rng)
        if mismatch:
            stable = codec.stable_ids() if stable is None else stable
            text, length, mismatch = _from_whole_words(codec, stable, inputs[index], rng) or (text, length, mismatch)
        prompts.append(Prompt(text, length, outputs[index], mismatch))
    return Dataset(tuple(prompts), codec.source)


def _from_whole_words(codec: TokenCodec, stable: Sequence[int], target: int,
                      rng: random.Random) -> tuple[str, int, int] | None:
    """A prompt of `target` whole-word tokens, when vLLM's method left a mismatch.

    Beyond vLLM: with a small or unusual vocabulary, a truncated token run can re-encode one token
    longer every time, so the retries never converge. Words with their leading space (`" the"`) are
    each a pre-token of their own and re-encode to themselves, so such a prompt is exact; it is
    checked all the same and only used when it is.
    """
    if not stable:
        return None
    text = codec.decode([rng.choice(stable) for _ in range(target)])
    length = len(codec.encode(text))
    return (text, length, 0) if length == target else None
