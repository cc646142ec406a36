"""The report's content drawn as Markdown: numbered sections, pipe tables, fenced code, cited sources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tui.report.doc import Block


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    """A fence longer than any run of backticks inside the text."""
    longest = 0
    run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _sources(block: Block, label: str) -> list[str]:
    cited = block.get("sources") or []
    return [f"<sub>{label}: " + ", ".join(f"`{path}`" for path in cited) + "</sub>", ""] if cited else []


def render_block(block: Block, sources_label: str) -> list[str]:
    lines: list[str] = []
    kind = block["type"]
    if block.get("caption"):
        lines += [str(block["caption"]), ""]
    if kind in ("paragraph", "not_run"):
        lines += [str(block["text"]), ""]
    elif kind == "table":
        columns: Sequence[str] = block["columns"]
        lines.append("| " + " | ".join(_cell(str(c)) for c in columns) + " |")
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        for row in block["rows"]:
            lines.append("| " + " | ".join(_cell(str(cell)) for cell in row) + " |")
        lines.append("")
    elif kind == "code":
        text = str(block["text"])
        fence = _fence(text)
        lines += [f"{fence}{block.get('lang') or ''}", text, fence, ""]
    elif kind == "list":
        lines += [f"- {item}" for item in block["items"]] + [""]
    return lines + _sources(block, sources_label)


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report as Markdown text."""
    lines = [f"# {report['title']}", "", str(report["preamble"]), ""]
    for number, section in enumerate(report["sections"], start=1):
        lines += [f"## {number}. {section['title']}", ""]
        for block in section["blocks"]:
            lines += render_block(block, report["sources_label"])
    return "\n".join(lines).rstrip() + "\n"
