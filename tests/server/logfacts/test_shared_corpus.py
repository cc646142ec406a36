"""Every real log of the shared corpus gives exactly its expected facts, whole or fed in random pieces."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import pytest

from tests.server.logfacts.corpus import SHARED_LOGS, assert_facts_match, expected_pairs, read_log
from tui.server.logfacts import LogFacts, parse_log_text

PAIRS = expected_pairs(SHARED_LOGS)


@pytest.mark.parametrize(("log", "expected"), PAIRS)
def test_log_gives_its_expected_facts(log: Path, expected: Path) -> None:
    facts = parse_log_text(read_log(log))
    assert_facts_match(facts, json.loads(expected.read_text(encoding="utf-8")))


def tricky_cuts(text: str) -> set[int]:
    """Cut positions between a CR and its LF, inside ANSI escapes, and right after a bare CR (tqdm)."""
    cuts = {match.start() + 1 for match in re.finditer("\r\n", text)}
    cuts |= {match.start() + 2 for match in re.finditer(r"\x1b\[[0-9;]*m", text)}
    cuts |= {match.start() + 1 for match in re.finditer(r"\r(?!\n)", text)}
    return cuts


def random_pieces(text: str, rng: random.Random) -> list[str]:
    """`text` cut at random sizes and at every tricky position: inside lines, CR LF pairs and escapes."""
    cuts = tricky_cuts(text)
    position = 0
    while position < len(text):
        position += rng.choice((1, 2, 3, 5, 8, 13, 64, 700, 4096))
        cuts.add(position)
    edges = [0, *sorted(cut for cut in cuts if 0 < cut < len(text)), len(text)]
    return [text[start:end] for start, end in itertools.pairwise(edges)]


@pytest.mark.parametrize(("log", "expected"), PAIRS)
def test_same_facts_when_fed_in_random_pieces(log: Path, expected: Path) -> None:
    text = read_log(log)
    whole = parse_log_text(text)
    rng = random.Random(log.name)
    for _ in range(2):
        reader = LogFacts()
        for piece in random_pieces(text, rng):
            reader.feed(piece)
        reader.close()
        assert reader.facts() == whole


def test_the_random_cuts_land_inside_crlf_and_ansi_escapes() -> None:
    """The cuts above do split CR LF pairs and escape sequences (else the test above would prove little)."""
    if SHARED_LOGS is None:
        pytest.skip("the shared fixture corpus is not here")
    text = read_log(next(SHARED_LOGS.glob("022_*.log")))
    cuts, position = set(), 0
    for piece in random_pieces(text, random.Random(0))[:-1]:
        position += len(piece)
        cuts.add(position)
    assert any(text[cut - 1:cut + 1] == "\r\n" for cut in cuts)
    escapes = [match.span() for match in re.finditer(r"\x1b\[[0-9;]*m", text)]
    assert any(start < cut < end for start, end in escapes for cut in cuts)
