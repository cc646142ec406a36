"""Two accuracy runs problem by problem: which problems flipped (eager against graph, device against reference).

A run is given as its stage folder (`result.json` and `items.jsonl`), its `result.json`, or its
`items.jsonl`. Only problems both runs answered are compared; problems that failed in either run
or were asked in only one are counted apart. `fixed` are wrong in A and right in B, `broken` right
in A and wrong in B. Settings that differ (grader, form, shots, tokens, temperature) are listed:
such runs differ for reasons other than the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.stages.accuracy.items import ITEMS_FILE, ItemsError, read_items

RESULT_FILE = "result.json"
COMPARED_SETTINGS = ("dataset", "grader", "mode", "shots", "model")
MAX_RESULT_BYTES = 1024 * 1024


class CompareError(Exception):
    """A run that cannot be read: the sentence says which and why."""


@dataclass(frozen=True)
class Run:
    """One run's label, result object (None when only items were given) and items by problem id."""

    label: str
    result: Mapping[str, Any] | None
    items: Mapping[int, Mapping[str, Any]]


def _read_result(path: Path) -> Mapping[str, Any]:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise CompareError(f"{path} is larger than an accuracy result")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path} is not JSON") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "grader" not in data:
        data = data["data"]
    if not isinstance(data, dict) or "grader" not in data:
        raise CompareError(f"{path} is not an accuracy result (no 'grader' key)")
    return data


def load_run(path: Path) -> Run:
    """The run at `path`: a stage folder, its result.json, or an items.jsonl."""
    if path.is_dir():
        folder, result_path = path, path / RESULT_FILE
    elif path.suffix == ".jsonl":
        folder, result_path = path.parent, None
    else:
        folder, result_path = path.parent, path
    items_path = path if path.suffix == ".jsonl" and not path.is_dir() else folder / ITEMS_FILE
    result = _read_result(result_path) if result_path is not None and result_path.exists() else None
    if not items_path.is_file():
        raise CompareError(f"no {ITEMS_FILE} beside {path}; give the accuracy run's folder (printed as 'Run files')")
    try:
        items = {int(item["id"]): item for item in read_items(items_path)}
    except ItemsError as exc:
        raise CompareError(str(exc)) from exc
    if not items:
        raise CompareError(f"{items_path} holds no problem")
    label = folder.name if path.is_dir() or result_path is not None else path.stem
    return Run(label, result, items)


def _percent(right: int, count: int) -> float | None:
    return 100.0 * right / count if count else None


def compare_runs(a: Run, b: Run) -> dict[str, Any]:
    """Problem by problem, B against A: counts, accuracies on the common problems, and the flips."""
    common = sorted(set(a.items) & set(b.items))
    answered = [i for i in common if a.items[i].get("correct") is not None and b.items[i].get("correct") is not None]
    right_a = {i for i in answered if a.items[i]["correct"]}
    right_b = {i for i in answered if b.items[i]["correct"]}
    flips = []
    for index in answered:
        if (index in right_a) != (index in right_b):
            item_a, item_b = a.items[index], b.items[index]
            flips.append({"id": index, "now": "right" if index in right_b else "wrong",
                          "reference": item_a.get("reference"), "a": item_a.get("extracted"),
                          "b": item_b.get("extracted"), "question": str(item_a.get("question", ""))[:120]})
    differ = {}
    if a.result is not None and b.result is not None:
        for key in COMPARED_SETTINGS:
            if a.result.get(key) != b.result.get(key):
                differ[key] = [a.result.get(key), b.result.get(key)]
        settings_a, settings_b = a.result.get("settings") or {}, b.result.get("settings") or {}
        for key in sorted(set(settings_a) | set(settings_b)):
            if settings_a.get(key) != settings_b.get(key):
                differ[key] = [settings_a.get(key), settings_b.get(key)]
    return {
        "a": a.label,
        "b": b.label,
        "compared": len(answered),
        "accuracy_a": _percent(len(right_a), len(answered)),
        "accuracy_b": _percent(len(right_b), len(answered)),
        "both_right": len(right_a & right_b),
        "both_wrong": len(answered) - len(right_a | right_b),
        "fixed": [flip["id"] for flip in flips if flip["now"] == "right"],
        "broken": [flip["id"] for flip in flips if flip["now"] == "wrong"],
        "failed_in_either": len(common) - len(answered),
        "only_in_a": len(set(a.items) - set(b.items)),
        "only_in_b": len(set(b.items) - set(a.items)),
        "settings_differ": differ,
        "flips": flips,
    }


def compare_paths(a: Path, b: Path) -> dict[str, Any]:
    first, second = load_run(a), load_run(b)
    if first.label == second.label:
        first, second = Run(f"A ({first.label})", first.result, first.items), \
            Run(f"B ({second.label})", second.result, second.items)
    return compare_runs(first, second)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def format_comparison(comparison: Mapping[str, Any], max_flips: int = 40) -> str:
    """The comparison for a terminal: the two accuracies, the counts, then each flipped problem."""
    lines = [
        f"A: {comparison['a']}  {_shown(comparison['accuracy_a'])}",
        f"B: {comparison['b']}  {_shown(comparison['accuracy_b'])}",
        f"{comparison['compared']} problems answered in both: {comparison['both_right']} right in both, "
        f"{comparison['both_wrong']} wrong in both, {len(comparison['fixed'])} fixed in B, "
        f"{len(comparison['broken'])} broken in B",
    ]
    apart = [f"{comparison[key]} {words}" for key, words in (("failed_in_either", "failed in either run"),
                                                              ("only_in_a", "only in A"), ("only_in_b", "only in B"))
             if comparison[key]]
    if apart:
        lines.append("Not compared: " + ", ".join(apart))
    for key, (value_a, value_b) in comparison["settings_differ"].items():
        lines.append(f"Settings differ: {key} {value_a} → {value_b}")
    flips = comparison["flips"]
    if flips:
        lines.append("")
        lines.append(f"{'id':>5}  {'now':<5}  {'ref':>8}  {'A':>8}  {'B':>8}  question")
        for flip in flips[:max_flips]:
            lines.append(f"{flip['id']:>5}  {flip['now']:<5}  {flip['reference']!s:>8}  {flip['a']!s:>8}  "
                         f"{flip['b']!s:>8}  {flip['question'][:60]}")
        if len(flips) > max_flips:
            lines.append(f"… and {len(flips) - max_flips} more (--json lists them all)")
    return "\n".join(lines)
