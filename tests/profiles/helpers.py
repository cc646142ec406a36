"""Paths shared by the profile tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "profiles"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
SHIPPED = REPO_ROOT / "profiles"
SHIPPED_FILES = sorted(SHIPPED.glob("*.toml"))

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

toml_loads = tomllib.loads
