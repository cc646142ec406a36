"""From run folders to `report.md` and `report.json`: collect, build the sections, redact, render, write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui import __version__
from tui.files.atomic import atomic_write_text
from tui.report import sections_analysis, sections_inference, sections_intro, sections_measure
from tui.report.collect import RunEvidence, read_run
from tui.report.doc import Cite, Context, as_dict, printable_tree
from tui.report.i18n import Text
from tui.report.redact import redact_tree
from tui.report.render_md import render_markdown

BUILDERS = (sections_intro.introduction, sections_intro.environment, sections_inference.inference,
            sections_measure.precision, sections_measure.performance, sections_measure.accuracy,
            sections_analysis.adaptation, sections_analysis.notes)
DEFAULT_URL = "http://127.0.0.1:8000"


class ReportError(Exception):
    """A report that cannot be made (no such folder, nothing to write to); the sentence says which."""


def _server_url(runs: list[RunEvidence]) -> str:
    for run in runs:
        for stage in run.stages:
            url = (stage.result or {}).get("url")
            if isinstance(url, str) and url.startswith("http"):
                return url
    for launch in (item for run in runs for item in run.launches):
        api = (launch.launch or {}).get("url") or (launch.facts or {}).get("api_url")
        if isinstance(api, str) and api.startswith("http"):
            return api.replace("0.0.0.0", "127.0.0.1")
    return DEFAULT_URL


def _profile(runs: list[RunEvidence]) -> str | None:
    for run in runs:
        name = run.meta.get("profile") or next((as_dict(item.launch).get("profile") for item in run.launches), None)
        if isinstance(name, str) and name and name != "cli":
            return name
    return None


def build_report(run_dirs: Sequence[Path], lang: str, out_dir: Path, generated_at: str | None = None
                 ) -> dict[str, Any]:
    """The report's content (what report.json holds), every string redacted."""
    text = Text(lang)
    for folder in run_dirs:
        if not Path(folder).is_dir():
            raise ReportError(f"{folder} is not a folder; pass run folders (runs/<profile>/<timestamp>)")
    runs = [read_run(Path(folder)) for folder in run_dirs]
    cite = Cite(out_dir)
    ctx = Context(runs=runs, text=text, cite=cite, url=_server_url(runs), profile=_profile(runs))
    model, _ = sections_intro.served_model(runs)
    at = generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = {
        "lang": lang,
        "title": text("report_title", model=model or text("unknown")),
        "preamble": text("generated", version=__version__, at=at, count=len(runs),
                         runs=", ".join(f"`{cite.one(run.path)}`" for run in runs)),
        "generated_at": at,
        "npu_console_version": __version__,
        "runs": [cite.one(run.path) for run in runs],
        "sources_label": text("sources"),
        "sections": [builder(ctx) for builder in BUILDERS],
    }
    redacted: dict[str, Any] = printable_tree(redact_tree(report))
    return redacted


def write_report(run_dirs: Sequence[Path], lang: str, out: Path, generated_at: str | None = None
                 ) -> tuple[Path, Path]:
    """Write the Markdown to `out` and the same content as JSON beside it (`.json`); both atomically."""
    out = Path(out)
    report = build_report(run_dirs, lang, out.parent, generated_at)
    json_path = out.with_suffix(".json") if out.suffix != ".json" else out.with_name(out.stem + ".report.json")
    try:
        atomic_write_text(out, render_markdown(report))
        atomic_write_text(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    except OSError as error:
        raise ReportError(f"cannot write {out}: {error.strerror or error}; choose another --out") from error
    return out, json_path


def write_session_report(run_dir: Path) -> list[Path]:
    """The console's key: `report.md`/`report.json` (Chinese) and `report.en.md`/`report.en.json` in `run_dir`."""
    written: list[Path] = []
    for lang, name in (("zh", "report.md"), ("en", "report.en.md")):
        written += write_report([run_dir], lang, Path(run_dir) / name)
    return written
