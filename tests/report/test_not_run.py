"""A section with no evidence says "not run" and the command that would produce it, in both languages."""

from __future__ import annotations

from pathlib import Path

from tests.report.conftest import GENERATED_AT
from tui.clock import SystemClock
from tui.files.runs import create_run_dir
from tui.report.build import build_report
from tui.report.render_md import render_markdown

NOT_RUN = {"environment": "npu-console evidence --url", "precision": "npu-console precision --model",
           "accuracy": "npu-console accuracy --url", "adaptation": "npu-console serve --profile demo"}


def test_an_empty_session_says_what_was_not_run(tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path, "demo", SystemClock())
    report = build_report([run_dir], "en", tmp_path, GENERATED_AT)
    status = {section["id"]: section["status"] for section in report["sections"]}
    assert status == {"introduction": "ok", "environment": "not_run", "inference": "not_run",
                      "precision": "not_run", "performance": "not_run", "accuracy": "not_run",
                      "adaptation": "not_run", "notes": "ok"}
    for section in report["sections"]:
        if section["id"] in NOT_RUN:
            (block,) = section["blocks"]
            assert block["type"] == "not_run" and block["command"].startswith(NOT_RUN[section["id"]])
    markdown = render_markdown(report)
    assert "Not run: no precision check. To produce it: `npu-console precision --model DIR --device npu" in markdown
    assert "Not run: no benchmark. To produce it: `npu-console bench serve --url http://127.0.0.1:8000" in markdown
    assert "No problem was recorded in these folders." in markdown
    chinese = render_markdown(build_report([run_dir], "zh", tmp_path, GENERATED_AT))
    assert "未运行：没有精度检查。生成方法：`npu-console precision" in chinese
    assert "## 6. 准确率" in chinese and "未运行：没有准确率测试" in chinese
