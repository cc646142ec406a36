"""Every figure the report prints is the one in the file it cites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.report.conftest import FIXTURE, GENERATED_AT, row, tables
from tui.report.build import build_report
from tui.report.doc import number
from tui.report.sections_measure import BENCH_ROWS


def cited(table: dict[str, Any], ending: str) -> list[Any]:
    return [json.loads((FIXTURE / path).read_text()) for path in table["sources"] if path.endswith(ending)]


def test_benchmark_cells_are_the_cited_results(session_runs: list[Path]) -> None:
    report = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    (bench,) = [table for table in tables(report, "performance") if table["caption"].startswith("Benchmark `serve`")]
    results = cited(bench, "result.json")
    assert [result["label"] for result in results] == ["eager", "graph"] == bench["columns"][1:3]
    checked = 0
    for key in BENCH_ROWS["serve"]:
        if any(result.get(key) is not None for result in results):
            assert row(bench, key)[1:3] == [number(result.get(key)) for result in results]
            checked += 1
    assert checked >= 15


def test_environment_rows_are_the_cited_fields(session_runs: list[Path]) -> None:
    report = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    (environment,) = tables(report, "environment")
    (data,) = cited(environment, "environment.json")
    assert row(environment, "CANN")[1:] == [data["cann"]["value"], data["cann"]["source"]]
    assert row(environment, "torch")[1:] == [data["packages"]["torch"]["value"],
                                             data["packages"]["torch"]["source"]]
    assert row(environment, "NPU firmware")[1] == f"unknown: {data['firmware']['reason']}"


def test_precision_and_accuracy_cells_are_the_cited_results(session_runs: list[Path]) -> None:
    report = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    metrics = tables(report, "precision")[0]
    (precision,) = cited(metrics, "result.json")
    assert row(metrics, "cosine_min")[1:] == [number(precision["summary"]["cosine_min"], 4),
                                              f"≥ {precision['thresholds']['cosine_min']:g}", "PASS"]
    accuracy_table = tables(report, "accuracy")[0]
    results = cited(accuracy_table, "result.json")
    assert [line[0] for line in accuracy_table["rows"]] == ["eager", "graph"]
    for line, accuracy in zip(accuracy_table["rows"], results, strict=True):
        assert line[5:10] == [str(accuracy["total"]), str(accuracy["correct"]), number(accuracy["accuracy"]),
                              str(accuracy["extraction_failures"]), str(accuracy["failed_requests"])]


def test_start_up_figures_are_the_logs(session_runs: list[Path]) -> None:
    report = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    (startup,) = [table for table in tables(report, "performance") if table["caption"].startswith("Start-up")]
    facts = cited(startup, "facts.json")
    assert [line[3] for line in startup["rows"]] == [number(item["weights_gib"]) for item in facts]
    assert [line[7] for line in startup["rows"]] == ["eager", "PIECEWISE"]


def test_the_dequant_row_is_the_cited_result(session_runs: list[Path]) -> None:
    report = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    (adaptation,) = tables(report, "adaptation")
    (dequant,) = [json.loads((FIXTURE / path).read_text()) for path in adaptation["sources"] if "dequant-" in path]
    assert row(adaptation, "FP8 → BF16 dequantization")[1] == (
        f"{dequant['tensors_converted']} tensor(s) converted, {dequant['tensors_copied']} copied, "
        f"{number(dequant['bytes_written'] / 1e6, 1)} MB written in {dequant['seconds']} s to {dequant['output']}")


def test_a_problem_that_flipped_between_two_accuracy_runs_is_listed(session_runs: list[Path], tmp_path: Path) -> None:
    """The graph run's first problem marked right (as a different server would have answered it): one flip."""
    import shutil

    copy = tmp_path / "session"
    shutil.copytree(FIXTURE, copy)
    runs = [copy / run.relative_to(FIXTURE) for run in session_runs]
    graph_items = sorted(copy.glob("cli/*/accuracy-*/items.jsonl"))[-1]
    lines = graph_items.read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "correct": True})
    graph_items.write_text("\n".join(lines) + "\n")
    report = build_report(runs, "en", copy, GENERATED_AT)
    (_summary, flips) = tables(report, "accuracy")
    assert flips["columns"] == ["id", "Now", "Reference", "eager", "graph", "Question"]
    (flip,) = flips["rows"]
    assert flip[:3] == [str(first["id"]), "right", str(first["reference"])]
    assert any("1 fixed, 0 broken" in block.get("text", "") for section in report["sections"]
               for block in section["blocks"] if section["id"] == "accuracy")
