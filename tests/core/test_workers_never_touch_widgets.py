"""Workers never touch widgets: what a controller's worker runs reaches the screen only through messages.

Read from the source (no App is run): every method a controller hands to
`self.worker(...)` or `self.app.run_worker(...)`, and every method of a
controller that those call in turn (`self.x()`, `self.app.stages_area.stage_now()`,
`self.demo.build()`, …), must not reach the screen (`self.main`,
`self.app.main`) nor query for widgets (`.query(`, `.query_one(`). The
drawing belongs to the `on_*` handlers of the messages the worker posts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import tui

TUI = Path(tui.__file__).parent
QUERIES = {"query", "query_one"}
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class ClassInfo:
    name: str
    bases: list[str]
    methods: dict[str, Function] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)  # attribute -> the class its __init__ makes it of


def read_classes(sources: dict[str, str]) -> dict[str, ClassInfo]:
    classes: dict[str, ClassInfo] = {}
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ClassDef):
                continue
            info = ClassInfo(node.name, [base.id for base in node.bases if isinstance(base, ast.Name)])
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    info.methods[item.name] = item
            init = info.methods.get("__init__")
            for statement in ast.walk(init) if init is not None else ():
                if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
                        and isinstance(statement.value.func, ast.Name)):
                    for target in statement.targets:
                        path = attribute_path(target)
                        if path is not None and len(path) == 2 and path[0] == "self":
                            info.parts[path[1]] = statement.value.func.id
            classes[node.name] = info
    return classes


def attribute_path(node: ast.expr) -> list[str] | None:
    """`self.app.stages_area.stage_now` as ["self", "app", "stages_area", "stage_now"]; None if not rooted at a
    name."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


class Reach:
    """Resolves `self.…` paths to the controller methods they name, the App's areas included."""

    def __init__(self, classes: dict[str, ClassInfo], app_class: str) -> None:
        self.classes = classes
        self.app_class = app_class

    def method(self, owner: str, name: str) -> tuple[str, Function] | None:
        info = self.classes.get(owner)
        while info is not None:
            if name in info.methods:
                return info.name, info.methods[name]
            info = next((self.classes[b] for b in info.bases if b in self.classes), None)
        return None

    def part(self, owner: str, name: str) -> str | None:
        if name == "app":
            return self.app_class
        info = self.classes.get(owner)
        while info is not None:
            if name in info.parts:
                return info.parts[name]
            info = next((self.classes[b] for b in info.bases if b in self.classes), None)
        return None

    def resolve(self, owner: str, path: list[str] | None) -> tuple[str, Function] | None:
        if not path or path[0] != "self" or len(path) < 2:
            return None
        current: str | None = owner
        for name in path[1:-1]:
            current = self.part(current, name) if current is not None else None
        return self.method(current, path[-1]) if current is not None else None

    def workers(self) -> list[tuple[str, str]]:
        """(class, method) of every method handed to `self.worker(...)` or `self.app.run_worker(...)`."""
        found = []
        for info in self.classes.values():
            for function in info.methods.values():
                for call in ast.walk(function):
                    if not (isinstance(call, ast.Call) and call.args):
                        continue
                    path = attribute_path(call.func)
                    if path not in (["self", "worker"], ["self", "app", "run_worker"]):
                        continue
                    target = self.resolve(info.name, attribute_path(call.args[0]))
                    if target is not None:
                        found.append((target[0], target[1].name))
        return sorted(set(found))

    def touches(self, owner: str, entry: str) -> list[str]:
        """The widget touches reachable from `owner.entry`, each with the chain of calls that leads there."""
        start = self.method(owner, entry)
        assert start is not None
        seen: set[tuple[str, str]] = set()
        problems: list[str] = []
        todo: list[tuple[str, Function, str]] = [(start[0], start[1], f"{start[0]}.{entry}")]
        while todo:
            cls, function, chain = todo.pop()
            if (cls, function.name) in seen:
                continue
            seen.add((cls, function.name))
            for node in ast.walk(function):
                path = attribute_path(node) if isinstance(node, ast.Attribute) else None
                if path in (["self", "main"], ["self", "app", "main"]):
                    problems.append(f"{chain} uses {'.'.join(path)} (line {node.lineno})")
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr in QUERIES:
                        problems.append(f"{chain} calls .{node.func.attr}() (line {node.lineno})")
                    callee = self.resolve(cls, attribute_path(node.func))
                    if callee is not None:
                        todo.append((callee[0], callee[1], f"{chain} → {callee[0]}.{callee[1].name}"))
        return sorted(set(problems))


def console_reach(extra: dict[str, str] | None = None) -> Reach:
    sources = {path.name: path.read_text() for path in sorted((TUI / "controllers").glob("*.py"))}
    sources["app.py"] = (TUI / "app.py").read_text()
    sources.update(extra or {})
    return Reach(read_classes(sources), "NpuConsoleApp")


def test_the_controllers_workers_are_found() -> None:
    workers = console_reach().workers()
    assert ("PlaygroundController", "_stream_reply") in workers
    assert ("StagesController", "_run_stage") in workers
    assert ("PrecisionController", "_run") in workers
    assert len(workers) >= 15


def test_no_worker_reaches_a_widget() -> None:
    reach = console_reach()
    problems = [problem for owner, entry in reach.workers() for problem in reach.touches(owner, entry)]
    assert not problems, "workers touch widgets (post a message instead):\n" + "\n".join(problems)


def test_the_check_follows_calls_into_other_areas() -> None:
    """A worker that draws through another area's method, through the App, is caught (the check is not blind)."""
    reach = console_reach({"probe.py": '''
class ProbeController(Controller):
    def run(self):
        self.worker(self._work, group="probe")

    async def _work(self):
        await self.app.stages_area.stage_now("x", [], "x")
        self._draw()

    def _draw(self):
        for view in self.app.main.query(StagesView):
            view.clear_stage()
'''})
    problems = reach.touches("ProbeController", "_work")
    assert any("ProbeController._work → ProbeController._draw uses self.app.main" in p for p in problems), problems
    assert not any("stage_now" in p for p in problems), problems
