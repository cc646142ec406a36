"""A failure's own words and particulars: the exception message, and what the kind needs named.

The root cause's kind says what went wrong in general; the operator also needs the
exception's own sentence (so nobody has to open the log) and, for some kinds, the
particulars a fix needs: which model is missing and why, the two lengths, the flag
that was not recognised and the one it probably meant. Both are read from the text
of the line that stated the failure (RULES.md, "message" and "detail").

- `exception_message`: `huggingface_hub.errors.HFValidationError: Repo id …` →
  `HFValidationError: Repo id …` (the module path is noise); pydantic's indented
  `Value error, X [type=value_error, …]` → `ValueError: X` (what the validator
  raised); anything else as it stands. Cut at `MESSAGE_LIMIT` characters.
- `details`: a small dict per kind, or None.
"""

from __future__ import annotations

import difflib
import re

from tui.server.logfacts.diagnosis import BAD_ARGUMENT, MAX_MODEL_LEN, MODEL_NOT_FOUND
from tui.server.logfacts.vllm_flags import closest_flag, normal_flag

MESSAGE_LIMIT = 600
"""Characters of a message kept: vLLM's own run to ~900 with caveats the hint repeats better."""

MISSING_PATH = "missing_path"
UNKNOWN_HUB_ID = "unknown_hub_id"
NO_WEIGHTS = "no_weights"

_QUALIFIED = re.compile(r"(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b)")
_PYDANTIC_VALUE = re.compile(r"Value error, (.*?)(?: \[type=value_error\b.*)?$")
_PYDANTIC_SUFFIX = re.compile(r" \[type=\w+, input_value=.*$")

_REPO_FORM = re.compile(
    r"(?:Repo id must be in the form 'repo_name' or 'namespace/repo_name'|"
    r"Invalid repository ID or local directory specified): '([^']*)'"
)
_NO_WEIGHTS_IN = re.compile(r"Cannot find any model weights with `([^`]*)`")
_HUB_ID_IN = re.compile(
    r"(?:Repository Not Found for url: \S*/api/models/|Repo id: |repo_id=|NotExistError: The model: )"
    r"([\w.-]+/[\w.-]+)"
)
_MAX_LEN = re.compile(
    r"max_model_len \((\d+)\) is greater than the derived max_model_len \((?:(\w+)=)?([\d.]+|None)"
)
_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: (.*)$")
_ARGUMENT = re.compile(r"error: argument ((?:-\w|--[\w-]+)(?:/(?:-\w|--[\w-]+))*): (.*)$")
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")
_AMBIGUOUS = re.compile(r"error: ambiguous option: (--[\w-]+)(?:=\S*)? could match (.*)$")
_REQUIRED = re.compile(r"error: (the following arguments are required: .*)$")


def exception_message(text: str) -> str:
    """The exception's own statement in `text` (a stripped log message), without module path, bounded."""
    text = text.strip()
    value = _PYDANTIC_VALUE.match(text)
    if value is not None:
        text = "ValueError: " + value.group(1)
    else:
        text = _PYDANTIC_SUFFIX.sub("", _QUALIFIED.sub("", text, count=1))
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT - 1].rstrip() + "…"
    return text


def looks_like_path(name: str) -> bool:
    """A model argument that names a folder rather than a hub id (`/x`, `./x`, `~/x`, `a/b/c`, `C:\\x`)."""
    return name.startswith(("/", ".", "~", "\\")) or name.count("/") > 1 or (len(name) > 1 and name[1] == ":")


def details(kind: str, text: str, model: object = None) -> dict[str, object] | None:
    """The particulars of a `kind` failure stated by `text`; `model` is the log's model argument, if known."""
    if kind == MODEL_NOT_FOUND:
        return _model_details(text, model if isinstance(model, str) else None)
    if kind == MAX_MODEL_LEN:
        found = _MAX_LEN.search(text)
        if found is None:
            return None
        supported = found.group(3)
        return {
            "requested": int(found.group(1)),
            "supported": None if supported == "None" else int(float(supported)),
            "source": found.group(2),
        }
    if kind == BAD_ARGUMENT:
        return _argument_details(text)
    return None


def quantization_details(method: str) -> dict[str, object]:
    """`unsupported_quantization` found through `--quantization METHOD`: the method that failed."""
    return {"quantization": method}


def _model_details(text: str, model: str | None) -> dict[str, object]:
    found = _NO_WEIGHTS_IN.search(text)
    if found is not None:
        return {"reason": NO_WEIGHTS, "model": found.group(1)}
    found = _REPO_FORM.search(text)
    if found is not None:
        name = found.group(1)
        return {"reason": MISSING_PATH if looks_like_path(name) else UNKNOWN_HUB_ID, "model": name}
    found = _HUB_ID_IN.search(text)
    name = found.group(1) if found is not None else model
    if name is not None and looks_like_path(name):
        return {"reason": MISSING_PATH, "model": name}
    return {"reason": UNKNOWN_HUB_ID, "model": name, "offline": "outgoing traffic has been disabled" in text
            or "LocalEntryNotFoundError" in text}


def _argument_details(text: str) -> dict[str, object] | None:
    found = _UNRECOGNIZED.search(text)
    if found is not None:
        words = found.group(1).split()
        flag = next((word for word in words if word.startswith("-")), words[0] if words else "")
        flag = flag.split("=", 1)[0]
        return {"flag": flag, "problem": "unrecognized", "suggestion": closest_flag(flag)}
    found = _AMBIGUOUS.search(text)
    if found is not None:
        return {"flag": found.group(1), "problem": "ambiguous: could match " + found.group(2), "suggestion": None}
    found = _ARGUMENT.search(text)
    if found is not None:
        flag = max(found.group(1).split("/"), key=len)
        problem = found.group(2)
        return {"flag": normal_flag(flag), "problem": problem, "suggestion": _closest_choice(problem)}
    found = _REQUIRED.search(text)
    if found is not None:
        return {"flag": None, "problem": found.group(1), "suggestion": None}
    return None


def _closest_choice(problem: str) -> str | None:
    """For `invalid choice: 'bfloat' (choose from 'auto', 'bfloat16', …)`, the choice it probably meant."""
    found = _INVALID_CHOICE.search(problem)
    if found is None:
        return None
    choices = re.findall(r"'([^']*)'", found.group(2))
    near = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.6)
    return near[0] if near else None
