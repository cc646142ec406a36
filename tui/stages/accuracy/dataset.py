"""GSM8K as the console ships it: the test split, the few-shot examples, the reference answers.

The files live beside this module (`data/gsm8k/`, MIT licence, provenance in its README) and travel
in the wheel. A problem's reference is the text after `#### ` in its worked answer, thousands
separators removed; a few-shot example is its worked answer with the calculator annotations
(`<<16-3-4=9>>`) taken out and the last line written `The answer is N`, as operators prompt it.
Reading is bounded: a file larger than `MAX_FILE_BYTES` or a line that is not a problem is refused
with one sentence naming file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

DATA_ROOT = Path(__file__).resolve().parent / "data"
DATASETS = ("gsm8k",)
TEST_FILE = "test.jsonl"
SHOTS_FILE = "train-first16.jsonl"
MAX_FILE_BYTES = 16 * 1024 * 1024
_ANNOTATION = re.compile(r"<<[^<>]*>>")
_ANSWER_MARK = "#### "


class DatasetError(Exception):
    """The dataset cannot be read: the sentence names the file and what is wrong with it."""


@dataclass(frozen=True)
class Problem:
    """One GSM8K problem: its 0-based index in its file, the question, the worked answer and the reference."""

    index: int
    question: str
    reasoning: str
    reference: str


def reference_of(answer: str) -> str:
    """The reference number of a worked answer: after `#### `, commas removed (`#### 1,600` → `1600`)."""
    if _ANSWER_MARK not in answer:
        raise ValueError("no '#### ' line")
    reference = answer.rsplit(_ANSWER_MARK, 1)[1].strip().replace(",", "")
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", reference):
        raise ValueError(f"the reference {reference!r} is not a number")
    return reference


def _reasoning_of(answer: str) -> str:
    """The worked steps without calculator annotations and without the `####` line."""
    steps = answer.rsplit(_ANSWER_MARK, 1)[0]
    return _ANNOTATION.sub("", steps).strip()


def read_problems(path: Path, limit: int | None = None) -> list[Problem]:
    """The first `limit` problems of a GSM8K JSON-lines file (all when None)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DatasetError(f"{path} holds {size} bytes, more than a GSM8K split can ({MAX_FILE_BYTES})")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text") from exc
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if limit is not None and len(problems) >= limit:
            break
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, answer = row["question"], row["answer"]
            if not isinstance(question, str) or not isinstance(answer, str):
                raise TypeError("question and answer must be strings")
            reference = reference_of(answer)
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path} line {number} is not a GSM8K problem ({exc})") from exc
        problems.append(Problem(len(problems), question, _reasoning_of(answer), reference))
    return problems


def dataset_folder(name: str) -> Path:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; this console ships {', '.join(DATASETS)}")
    return DATA_ROOT / name


def load_test_split(name: str, limit: int | None) -> list[Problem]:
    """The first `limit` problems of the test split (the whole split when None)."""
    return read_problems(dataset_folder(name) / TEST_FILE, limit)


def few_shot_examples(name: str, shots: int) -> list[Problem]:
    """The first `shots` problems of the train split, the worked examples of the prompt."""
    if shots == 0:
        return []
    examples = read_problems(dataset_folder(name) / SHOTS_FILE, shots)
    if len(examples) < shots:
        raise DatasetError(f"{name} ships {len(examples)} few-shot examples; ask for at most that many with --shots")
    return examples


def file_sha256(name: str) -> str:
    """The sha256 of the test split, for the record (the README beside the data gives the expected one)."""
    digest = hashlib.sha256()
    with (dataset_folder(name) / TEST_FILE).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
