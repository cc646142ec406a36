"""The three GSM8K graders: which number a reply gives as its answer, and whether it is the reference.

Every grader first cuts the reply at a further `Question:` (the model went on to invent the next
problem; AISBench cuts there, lm-evaluation-harness stops generating there), then:

- `aisbench`: the last number of what is left (`-?\\d+\\.\\d+|-?\\d+`), as AISBench's
  `gsm8k_postprocess`. Thousands separators (a comma between a digit and exactly three digits) are
  removed first. This differs from AISBench's own comma handling: AISBench removes *every* comma
  (`3,4` becomes 34) and older OpenCompass releases removed none (`1,000` gave 000); here `1,000` is
  1000 and `3,4` is 4.
- `lm-eval`: the first strict answer phrase, `The answer is N` or `#### N` (lm-eval's gsm8k-cot and
  gsm8k "strict-match"), else the last number by lm-eval's "flexible-extract" pattern
  (`-?[$0-9.,]{2,}|-?[0-9]+`, dollar signs and every comma removed, a final period dropped).
- `boxed`: the last `\\boxed{N}` (evalscope and math-tuned models), else the last answer phrase
  (`The answer is N`, `The final answer is N`, `#### N`), else the last number as `aisbench` finds it.

All three compare numerically with the reference (as AISBench: equal within 1e-6), so `5.00` and
`$5` are right for 5. lm-eval itself compares strings, where `5.00` would be wrong: a report names
the grader it used. A reply in which no number is found is an extraction failure, and wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

GraderName = Literal["aisbench", "lm-eval", "boxed"]
GRADERS: tuple[GraderName, ...] = ("aisbench", "lm-eval", "boxed")
TOLERANCE = Decimal("1e-6")

_QUESTION = "Question:"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")
_STRICT = re.compile(r"(?:the answer is|####)\s*:?\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_PHRASE = re.compile(r"(?:the (?:final )?answer is|final answer:|####)\s*:?\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)",
                     re.IGNORECASE)
_BOXED = "\\boxed{"
_LATEX_NOISE = re.compile(r"\\[,!;: ]|\\\$|\$|\\%|%")


@dataclass(frozen=True)
class Extraction:
    """The number a reply gives (as written, separators removed) and the rule that found it; None: none."""

    value: str | None
    rule: str | None = None


def cut_at_next_question(reply: str) -> str:
    """The reply up to a further `Question:` (the model started inventing the next problem)."""
    return reply.split(_QUESTION, 1)[0]


def without_thousands_separators(text: str) -> str:
    """`1,234,567.5` → `1234567.5`; a comma that is not a thousands separator (`3,4`) stays."""
    return _THOUSANDS.sub("", text)


def as_number(text: str | None) -> Decimal | None:
    """`text` as an exact decimal, or None when it is not a number."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def last_number(text: str) -> str | None:
    """AISBench's rule on `text`: the last `-?\\d+\\.\\d+|-?\\d+`, thousands separators removed first."""
    numbers = _NUMBER.findall(without_thousands_separators(text))
    return numbers[-1] if numbers else None


def _clean(text: str) -> str:
    return text.replace(",", "").replace("$", "").rstrip(".")


def grade_aisbench(reply: str) -> Extraction:
    found = last_number(cut_at_next_question(reply))
    return Extraction(found, "last number" if found is not None else None)


def grade_lm_eval(reply: str) -> Extraction:
    text = cut_at_next_question(reply)
    strict = _STRICT.search(text)
    if strict is not None and as_number(_clean(strict.group(1))) is not None:
        return Extraction(_clean(strict.group(1)), "answer phrase")
    for match in reversed(_FLEXIBLE.findall(text)):
        candidate = _clean(match[0] or match[1])
        if as_number(candidate) is not None:
            return Extraction(candidate, "last number")
    return Extraction(None)


def _boxed_contents(text: str) -> list[str]:
    """The contents of every `\\boxed{…}`, braces balanced (`\\boxed{\\text{18}}` → `\\text{18}`)."""
    contents = []
    start = text.find(_BOXED)
    while start != -1:
        depth, index = 1, start + len(_BOXED)
        while index < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        if depth == 0:
            contents.append(text[start + len(_BOXED): index - 1])
        start = text.find(_BOXED, start + len(_BOXED))
    return contents


def _unbox(content: str) -> str:
    """`\\text{18}` → `18`, `\\$1{,}000` → `1000`: the LaTeX around a number dropped."""
    content = content.replace("{,}", ",")
    content = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}", r"\1", content)
    return _LATEX_NOISE.sub("", content)


def grade_boxed(reply: str) -> Extraction:
    text = cut_at_next_question(reply)
    for content in reversed(_boxed_contents(text)):
        found = last_number(_unbox(content))
        if found is not None:
            return Extraction(found, "boxed")
    phrases = _PHRASE.findall(text)
    if phrases and as_number(_clean(phrases[-1])) is not None:
        return Extraction(_clean(phrases[-1]), "answer phrase")
    found = last_number(text)
    return Extraction(found, "last number" if found is not None else None)


_GRADERS = {"aisbench": grade_aisbench, "lm-eval": grade_lm_eval, "boxed": grade_boxed}


def extract(grader: GraderName, reply: str) -> Extraction:
    """What `grader` reads as the reply's answer."""
    return _GRADERS[grader](reply)


def is_correct(extracted: str | None, reference: str) -> bool:
    """Numerically equal (within 1e-6, as AISBench compares); a missing or non-numeric answer is wrong."""
    got, want = as_number(extracted), as_number(reference)
    if got is None or want is None:
        return False
    return abs(got - want) <= TOLERANCE
