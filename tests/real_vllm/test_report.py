"""The verification report of a real-engine session, made the way an operator makes it: the console's own commands.

One `npu-console serve` of the shipped `tiny-qwen2-cpu` profile (pointed at the tiny Qwen2 the tier builds, on a
free port) and, against it, `evidence`, `bench serve`, `accuracy` (0-shot: the tiny model's 512-token window
cannot hold a 4-shot prompt) and `precision` in API mode (the server's logprobs against the CPU float32
reference of the same weights); then Ctrl-C, and no process of the launch may be left. `npu-console report`
over the session's run folders must show every section that has evidence (vLLM 0.32.0 as the serving
interpreter sees it, the CPU platform, the prompts' determinism, the benchmark, the accuracy and the precision
verdict), each figure equal to the one in the file it cites, in English and in Chinese; a report over only
the launch's folder says "not run" with the command for what it lacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.real_vllm import console, engine
from tests.real_vllm.test_failures import left_behind
from tests.report.conftest import markdown_table_cell, row, tables
from tests.sim.harness import free_port
from tui.profile import load_profile, save_profile, shipped_profiles_dir
from tui.report.doc import number

STEP_TIMEOUT_S = 900.0
"""One command against the tiny model takes seconds to a minute on 2 idle cores; generous for a busy machine."""


def session_profile(folder: Path, model: Path, port: int) -> Path:
    """The shipped CPU profile as an operator adapts it: the tier's model, a free port, the tier's engine on PATH."""
    shipped = load_profile(shipped_profiles_dir() / "tiny-qwen2-cpu.toml")
    variables = {**shipped.environment.vars, "PATH": f"{engine.venv() / 'bin'}:${{PATH}}", "VLLM_NO_USAGE_STATS": "1"}
    profile = replace(shipped, model=replace(shipped.model, path=str(model)),
                      server=replace(shipped.server, port=port),
                      environment=replace(shipped.environment, vars=variables))
    return save_profile(profile, folder / "tiny-qwen2-cpu.toml")


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """`npu-console ARGV` to its end; it must succeed."""
    done = subprocess.run([sys.executable, "-m", "tui", *argv], capture_output=True, text=True, cwd=console.REPO,
                          timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"npu-console {' '.join(argv[:2])} exited {done.returncode}:\n" \
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def cited(block: dict[str, Any], base: Path, ending: str) -> list[Any]:
    """The JSON files a report block cites (paths relative to the report) whose names end with `ending`."""
    return [json.loads((base / path).read_text()) for path in block["sources"] if path.endswith(ending)]


def blocks(report: dict[str, Any], section: str) -> list[dict[str, Any]]:
    (found,) = [item for item in report["sections"] if item["id"] == section]
    return list(found["blocks"])


@pytest.fixture(scope="module")
def session(tiny_qwen2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's runs folder: one real launch and four stages against it, stopped clean."""
    folder = tmp_path_factory.mktemp("report-session")
    port = free_port()
    profile = session_profile(folder, tiny_qwen2, port)
    runs = folder / "runs"
    url = f"http://127.0.0.1:{port}"
    with console.console_cli("serve", "--profile", str(profile), "--runs-dir", str(runs),
                             env=dict(os.environ)) as (process, out):
        out.until("Ready: the API answers")
        server = [p for p in console.engine_tree(process.pid) if p.pid != process.pid]
        cli("evidence", "--url", url, "--profile", str(profile), "--runs-dir", str(runs))
        cli("bench", "serve", "--url", url, "--num-prompts", "8", "--random-input-len", "32",
            "--random-output-len", "16", "--ignore-eos", "--label", "eager", "--runs-dir", str(runs))
        cli("accuracy", "--url", url, "--shots", "0", "--limit", "5", "--max-tokens", "32", "--runs-dir", str(runs))
        precision = subprocess.run(
            [sys.executable, "-m", "tui", "precision", "--model", str(tiny_qwen2), "--url", url,
             "--profile", str(profile), "--runs-dir", str(runs)],
            capture_output=True, text=True, cwd=console.REPO, timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
        # 0 PASS, 1 FAIL (bfloat16 serving of random weights may miss a threshold): either is a verdict to report.
        assert precision.returncode in (0, 1) and "Traceback" not in precision.stderr, \
            f"{precision.stdout[-3000:]}\n{precision.stderr[-3000:]}"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, "\n".join(out.rest())
        assert console.wait_gone(server, timeout=30) == [], "the engine's whole tree is gone after Ctrl-C"
    assert left_behind(runs) == [], "processes of the launch outlived it (stopped now)"
    return runs


def session_folders(runs: Path) -> list[Path]:
    return sorted((path for path in runs.glob("*/*") if path.is_dir()), key=lambda path: path.name)


def write_report(runs: Path, lang: str) -> tuple[str, dict[str, Any], Path]:
    out = runs.parent / f"report.{lang}.md"
    done = cli("report", *map(str, session_folders(runs)), "--lang", lang, "--out", str(out))
    assert done.stdout.split() == [str(out), str(out.with_suffix(".json"))]
    return out.read_text(encoding="utf-8"), json.loads(out.with_suffix(".json").read_text(encoding="utf-8")), out.parent


def test_every_section_with_evidence_shows_it_and_each_figure_is_its_files(session: Path) -> None:
    markdown, report, base = write_report(session, "en")
    status = {section["id"]: section["status"] for section in report["sections"]}
    assert status == dict.fromkeys(("introduction", "environment", "inference", "precision", "performance",
                                    "accuracy", "adaptation", "notes"), "ok"), status

    # Introduction and environment: the engine as its own interpreter sees it, the platform its log states.
    assert markdown_table_cell(markdown, "Platform", 1) == "cpu"
    assert markdown_table_cell(markdown, "Server version", 1) == engine.VERSION
    assert markdown_table_cell(markdown, "Profile", 1) == "tiny-qwen2-cpu"
    (environment,) = [block for block in blocks(report, "environment") if block["type"] == "table"]
    (captured,) = cited(environment, base, "environment.json")
    assert captured["packages"]["vllm"]["value"] == engine.VERSION
    assert str(engine.venv()) in captured["interpreter"], captured["interpreter"]
    assert row(environment, "vllm")[1:] == [engine.VERSION, captured["packages"]["vllm"]["source"]]
    assert row(environment, "torch")[1] == captured["packages"]["torch"]["value"]
    assert row(environment, "vllm-ascend")[1].startswith("unknown: ")

    # Inference evidence: the launch's facts, the curl exchanges, the prompts twice at temperature 0.
    facts_table = next(block for block in blocks(report, "inference") if block["type"] == "table"
                       and block["caption"].startswith("What the server log states"))
    (facts,) = cited(facts_table, base, "facts.json")
    assert row(facts_table, "platform")[1] == facts["platform"] == "cpu"
    assert row(facts_table, "vllm_version")[1] == engine.VERSION
    evidence_dir = only(sorted(session.glob("*/*/evidence-*")))
    evidence = json.loads((evidence_dir / "result.json").read_text())
    assert [exchange["status"] for exchange in evidence["exchanges"].values()] == [200, 200, 200, 200]
    for name in ("models", "version", "chat", "completion"):
        assert f"`{name}`: the request as curl, then the server's answer (HTTP 200):" in markdown
    prompts_table = next(block for block in blocks(report, "inference") if block["type"] == "table"
                         and block["caption"].startswith("Fixed prompts at temperature 0"))
    shipped = load_profile(shipped_profiles_dir() / "tiny-qwen2-cpu.toml").stages.evidence
    assert [item["prompt"] for item in evidence["prompts"]] == list(shipped.prompts)
    same_column = prompts_table["columns"].index("Same twice")
    # Greedy decoding of one request at a time on the CPU: both runs of every prompt are the same text.
    assert all(item["deterministic"] is True for item in evidence["prompts"]), evidence["prompts"]
    assert [line[same_column] for line in prompts_table["rows"]] == ["yes"] * len(shipped.prompts)
    tokens_column = prompts_table["columns"].index("Tokens")
    assert [line[tokens_column] for line in prompts_table["rows"]] == [
        str(item["runs"][0]["completion_tokens"]) for item in evidence["prompts"]]
    summary = evidence["summary"]
    assert (f"{summary['deterministic']} of {summary['prompts']} prompt(s) answered identically on both runs; "
            f"0 differed; 0 request(s) failed.") in markdown

    # Performance: the benchmark's figures are its result.json's.
    bench_table = next(block for block in blocks(report, "performance") if block["type"] == "table"
                       and block["caption"].startswith("Benchmark `serve`"))
    (bench,) = cited(bench_table, base, "result.json")
    assert bench["completed"] == 8 and bench["label"] == "eager"
    for key in ("request_throughput", "output_throughput", "mean_ttft_ms", "mean_tpot_ms"):
        assert row(bench_table, key)[1] == number(bench[key]), key
    startup = next(block for block in blocks(report, "performance") if block["type"] == "table"
                   and block["caption"].startswith("Start-up"))
    assert only(startup["rows"])[startup["columns"].index("Compilation")] == "eager"

    # Accuracy: the GSM8K summary is the stage's result.json.
    (accuracy_table,) = tables(report, "accuracy")
    (accuracy,) = cited(accuracy_table, base, "result.json")
    assert (accuracy["limit"], accuracy["shots"], accuracy["failed_requests"]) == (5, 0, 0)
    line = only(accuracy_table["rows"])
    column = accuracy_table["columns"].index
    assert [line[column(name)] for name in ("Shots", "Total", "Correct", "Accuracy (%)", "Extraction failures",
                                            "Failed requests")] == [
        "0", str(accuracy["total"]), str(accuracy["correct"]), number(accuracy["accuracy"]),
        str(accuracy["extraction_failures"]), "0"]

    # Precision: API mode against the served logprobs, the verdict and the top-1 row as result.json has them.
    precision_dir = only(sorted(session.glob("*/*/precision-*")))
    precision = json.loads((precision_dir / "result.json").read_text())
    assert precision["mode"] == "api" and precision["verdict"] in ("PASS", "FAIL")
    assert f"Verdict: **{precision['verdict']}** (api mode" in markdown
    metrics = tables(report, "precision")[0]
    assert cited(metrics, base, "result.json") == [precision]
    assert row(metrics, "top1_agreement")[1] == number(precision["summary"]["top1_agreement"], 4)

    # Every table with a figure and every code block names the files it came from, and every cited file exists.
    # (The "what this report covers" list is done / not run per check: no figure, no file. A request as curl
    # is cited with the server's answer right after it.)
    for section in report["sections"]:
        for index, block in enumerate(section["blocks"]):
            following = section["blocks"][index + 1: index + 2]
            if block["type"] == "table" and block["columns"] != ["Check", "Status"]:
                assert block["sources"], (section["id"], block.get("caption"))
            if block["type"] == "code":
                assert block["sources"] or (following and following[0]["type"] == "code"
                                            and following[0]["sources"]), (section["id"], block.get("caption"))
            for path in block.get("sources") or ():
                assert (base / path).is_file(), path


def test_the_chinese_report_says_the_same(session: Path) -> None:
    english = write_report(session, "en")[1]
    markdown, chinese, _ = write_report(session, "zh")
    assert [section["status"] for section in chinese["sections"]] == [s["status"] for s in english["sections"]]
    for heading in ("## 2. 环境", "## 3. 推理验证", "## 4. 精度", "## 5. 性能", "## 6. 准确率"):
        assert heading in markdown, heading
    assert "两次一致" in markdown and "未运行：" not in markdown  # no section lacks its evidence
    for section_en, section_zh in zip(english["sections"], chinese["sections"], strict=True):
        figures = [block["rows"] for block in section_en["blocks"] if block["type"] == "table"]
        numbers = [[cell for cell in line if cell.replace(".", "", 1).isdigit()] for rows in figures for line in rows]
        numbers_zh = [[cell for cell in line if cell.replace(".", "", 1).isdigit()]
                      for rows in [block["rows"] for block in section_zh["blocks"] if block["type"] == "table"]
                      for line in rows]
        assert numbers == numbers_zh, section_en["id"]


def test_a_report_of_the_launch_alone_says_what_was_not_run_and_how(session: Path) -> None:
    launch = only([path for path in session_folders(session) if (path / "launch.json").is_file()])
    out = session.parent / "launch-only" / "report.md"
    cli("report", str(launch), "--lang", "en", "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    markdown = out.read_text(encoding="utf-8")
    status = {section["id"]: section["status"] for section in report["sections"]}
    assert status["precision"] == status["accuracy"] == "not_run", status
    assert status["environment"] == status["inference"] == status["adaptation"] == "ok", status
    port = json.loads((launch / "launch.json").read_text())["argv"]
    url = f"http://127.0.0.1:{port[port.index('--port') + 1]}"
    assert "Not run: no precision check. To produce it: `npu-console precision --model DIR" in markdown
    assert f"Not run: no accuracy run. To produce it: `npu-console accuracy --url {url}" in markdown
    assert f"Not run: no benchmark. To produce it: `npu-console bench serve --url {url}" in markdown
    assert f"Not run: no inference-evidence run. To produce it: `npu-console evidence --url {url}" in markdown
    chinese = session.parent / "launch-only" / "report.zh.md"
    cli("report", str(launch), "--out", str(chinese))
    assert "未运行：没有精度检查。生成方法：`npu-console precision" in chinese.read_text(encoding="utf-8")
