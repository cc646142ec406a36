"""One accuracy run end to end: the problems, the prompts, bounded concurrency, grading, the result.

`run_accuracy(args)` is the whole stage for one parsed command line; `__main__` wraps it with the
JSON-lines protocol and the exit statuses. `concurrency` workers share one aiohttp session and take
the next problem as each finishes. A request that fails is counted in `failed_requests`, kept in
`items.jsonl` with its error, and left out of `total` and `accuracy`: never scored as wrong
silently. Progress goes out about four times a second with the running accuracy.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tui.files.atomic import atomic_write_json
from tui.stages.accuracy.client import PATHS, Answer, ServerError, ask, first_model
from tui.stages.accuracy.dataset import DatasetError, Problem, few_shot_examples, file_sha256, load_test_split
from tui.stages.accuracy.graders import GraderName, extract, is_correct
from tui.stages.accuracy.items import ITEMS_FILE, ItemsFile
from tui.stages.accuracy.prompts import request_body
from tui.stages.entry import StageRunError
from tui.stages.events import emit_log, emit_progress, stage_folder
from tui.stages.server_options import api_key_headers, server_root

TICK_S = 0.25
RESULT_KEYS = ("dataset", "limit", "shots", "grader", "mode", "model", "total", "correct", "accuracy",
               "extraction_failures", "failed_requests", "duration_s", "settings")
"""The result object's keys, exactly (CONTRACTS.md `accuracy --json F`)."""


class AccuracyError(StageRunError):
    """The run could not start or nothing was graded; `exit_code` 1 (failed) or 2 (bad input)."""


@dataclass
class Tally:
    """The running counts: graded (a reply came back), correct, extraction failures, failed requests."""

    total: int
    graded: int = 0
    correct: int = 0
    extraction_failures: int = 0
    failed: int = 0
    cut_by_max_tokens: int = 0
    in_flight: int = 0
    first_errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.graded + self.failed

    @property
    def accuracy(self) -> float | None:
        """Percent right of the graded problems; None before the first."""
        return 100.0 * self.correct / self.graded if self.graded else None

    def emit(self) -> None:
        accuracy = self.accuracy
        shown = "no problem graded yet" if accuracy is None else \
            f"{self.correct}/{self.graded} right ({accuracy:.2f} %)"
        failed = f", {self.failed} failed" if self.failed else ""
        emit_progress(self.done, self.total, "problem", shown + failed, accuracy=accuracy, correct=self.correct,
                      graded=self.graded, failed=self.failed, extraction_failures=self.extraction_failures,
                      in_flight=self.in_flight)


def grade_item(problem: Problem, answer: Answer, grader: GraderName, latency_s: float) -> dict[str, Any]:
    """The `items.jsonl` record of one problem."""
    item: dict[str, Any] = {"id": problem.index, "question": problem.question, "reply": answer.text}
    if answer.reasoning:
        item["reasoning"] = answer.reasoning
    if answer.ok:
        found = extract(grader, answer.text)
        item.update(extracted=found.value, extracted_by=found.rule, reference=problem.reference,
                    correct=is_correct(found.value, problem.reference), error=None)
    else:
        item.update(extracted=None, extracted_by=None, reference=problem.reference, correct=None,
                    error=answer.error)
    item.update(finish_reason=answer.finish_reason, completion_tokens=answer.completion_tokens,
                latency_s=round(latency_s, 4))
    return item


def _items_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "items", None) is not None:
        return Path(args.items)
    folder = stage_folder()
    return Path(folder) / ITEMS_FILE if folder else None


async def _run_problems(args: argparse.Namespace, session: aiohttp.ClientSession, url: str, model: str,
                        problems: list[Problem], examples: list[Problem], headers: dict[str, str],
                        tally: Tally, items: ItemsFile | None) -> None:
    queue = iter(problems)
    split_think = args.mode == "chat"

    async def worker() -> None:
        for problem in queue:
            body = request_body(args.mode, model, problem, examples, max_tokens=args.max_tokens,
                                temperature=args.temperature, top_p=args.top_p, stream=args.stream)
            tally.in_flight += 1
            started = time.monotonic()
            try:
                answer = await ask(session, url, body, headers, args.timeout, split_think=split_think)
            finally:
                tally.in_flight -= 1
            item = grade_item(problem, answer, args.grader, time.monotonic() - started)
            if answer.ok:
                tally.graded += 1
                tally.correct += bool(item["correct"])
                tally.extraction_failures += item["extracted"] is None
                tally.cut_by_max_tokens += answer.finish_reason == "length"
            else:
                tally.failed += 1
                if len(tally.first_errors) < 3 and answer.error not in tally.first_errors:
                    tally.first_errors.append(str(answer.error))
            if items is not None:
                items.add(item)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if items is not None:
                items.flush()
            tally.emit()

    ticks = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(worker() for _ in range(min(args.concurrency, len(problems)))))
    finally:
        ticks.cancel()
    tally.emit()


async def run_accuracy(args: argparse.Namespace) -> dict[str, Any]:
    """Run GSM8K with the parsed options and return the result object (raises `AccuracyError`)."""
    started = time.monotonic()
    try:
        problems = load_test_split(args.dataset, args.limit)
        examples = few_shot_examples(args.dataset, args.shots)
        digest = file_sha256(args.dataset)
    except (DatasetError, OSError) as exc:
        raise AccuracyError(str(exc), 2) from exc
    headers = api_key_headers(args.api_key_env)
    root = server_root(args.url)
    emit_log(f"{args.dataset}: the first {len(problems)} test problems (test.jsonl sha256 {digest[:16]}…), "
             f"{args.shots}-shot chain of thought, {args.mode} form, grader {args.grader}")
    if args.grader == "aisbench":
        emit_log("aisbench grader: thousands separators are removed before the last number is read; AISBench "
                 "itself removes every comma, so '3,4' reads 4 here and 34 there")
    tally = Tally(len(problems))
    items_path = _items_path(args)
    try:
        items = ItemsFile(items_path) if items_path is not None else None
    except OSError as exc:
        raise AccuracyError(f"cannot write the per-problem file {items_path}: {exc.strerror or exc}", 2) from exc
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            try:
                model = args.model or await first_model(session, root, headers)
            except ServerError as exc:
                raise AccuracyError(str(exc)) from exc
            await _run_problems(args, session, root + PATHS[args.mode], model, problems, examples, headers, tally,
                                items)
    finally:
        if items is not None:
            items.finish()
    result: dict[str, Any] = {
        "dataset": args.dataset,
        "limit": len(problems),
        "shots": args.shots,
        "grader": args.grader,
        "mode": args.mode,
        "model": model,
        "total": tally.graded,
        "correct": tally.correct,
        "accuracy": tally.accuracy,
        "extraction_failures": tally.extraction_failures,
        "failed_requests": tally.failed,
        "duration_s": round(time.monotonic() - started, 3),
        "settings": {"temperature": args.temperature, "top_p": args.top_p, "max_tokens": args.max_tokens},
    }
    if args.result_json is not None:
        try:
            atomic_write_json(args.result_json, result)
        except OSError as exc:
            raise AccuracyError(f"cannot write --json {args.result_json}: {exc.strerror or exc}; the result is in "
                                "the run folder", 2, result) from exc
    if tally.graded == 0:
        first = f": {tally.first_errors[0]}" if tally.first_errors else ""
        raise AccuracyError(f"no request succeeded ({tally.failed} failed){first}", 1, result)
    for error in tally.first_errors:
        emit_log(f"a request failed: {error}", "warning")
    if tally.failed:
        emit_log(f"{tally.failed} of {len(problems)} requests failed and are not scored: the accuracy covers the "
                 f"{tally.graded} problems that were answered", "warning")
    if tally.cut_by_max_tokens:
        emit_log(f"{tally.cut_by_max_tokens} replies stopped at --max-tokens {args.max_tokens} (finish reason "
                 "'length'); a model that reasons at length needs more", "warning")
    if tally.extraction_failures:
        emit_log(f"{tally.extraction_failures} replies held no number the {args.grader} grader could read "
                 "(scored wrong)", "warning")
    return result
