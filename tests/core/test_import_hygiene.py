"""The headless core never imports Textual, and `--help` stays light.

Each check runs in a fresh interpreter, because this test process has long
since imported everything.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import tui

UI_MODULES = {"tui.app", "tui.cli", "tui.__main__"}
UI_PACKAGES = ("tui.screens", "tui.controllers")


def core_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(tui.__path__, "tui."):
        if module.name in UI_MODULES or module.name.startswith(UI_PACKAGES):
            continue
        names.append(module.name)
    return sorted(names)


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def test_there_are_core_modules_to_check() -> None:
    modules = core_modules()
    assert "tui.profile" in modules and "tui.sim.npu_smi" in modules and "tui.processes.commands" in modules


@pytest.mark.parametrize("module", core_modules())
def test_core_module_does_not_import_textual(module: str) -> None:
    loaded = imported_after(f"import {module}")
    assert not {name for name in loaded if name == "textual" or name.startswith("textual.")}, (
        f"{module} pulls in Textual; the headless core must stay importable without the UI"
    )


def test_help_imports_neither_textual_nor_torch_nor_httpx() -> None:
    loaded = imported_after(
        "import sys\nfrom tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    heavy = {"textual", "torch", "httpx", "transformers", "safetensors", "rich"}
    assert not heavy & loaded


def test_help_text_names_the_demo_and_subcommands() -> None:
    result = subprocess.run([sys.executable, "-m", "tui", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--demo" in result.stdout
    assert "profiles" in result.stdout
