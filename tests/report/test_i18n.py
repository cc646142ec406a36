"""Both languages say the same things: the same keys, the same placeholders."""

from __future__ import annotations

import string

import pytest

from tui.report.i18n import EN, ZH, Text


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_in_both_languages_with_the_same_placeholders() -> None:
    assert set(EN) == set(ZH)
    assert {key: fields(EN[key]) for key in EN} == {key: fields(ZH[key]) for key in ZH}


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of zh, en"):
        Text("fr")
