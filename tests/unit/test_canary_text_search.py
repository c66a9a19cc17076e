"""The privacy canary's text search finds exactly what the word-boundary regex finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.privacy_canary import Identifiers

WORDS = frozenset({"SMITHSON", "JOHN SMITH", "12/123456A", "2001-02-03", "AB1 2CD", "O'NEIL-"})


def _ids(words: frozenset[str] = WORDS) -> Identifiers:
    return Identifiers(frozenset(), words, max(map(len, words)))


def _regex(words: frozenset[str], text: str) -> bool:
    pattern = r"(?<![A-Z0-9])(?:" + "|".join(re.escape(w) for w in words) + r")(?![A-Z0-9])"
    return re.search(pattern, text) is not None


def test_words_are_found_between_boundaries_only() -> None:
    ids = _ids()
    assert ids.in_text("NAME: SMITHSON.")
    assert ids.in_text('{"x": "JOHN SMITH"}')
    assert ids.in_text("PNC 12/123456A")
    assert ids.in_text("BORN 2001-02-03 00:00")
    assert not ids.in_text("BORN 2001-02-03T00:00")
    assert ids.in_text("<TD>AB1 2CD</TD>")
    assert ids.in_text("MR O'NEIL-")
    assert not ids.in_text("MR O'NEIL-A")
    assert not ids.in_text("SMITHSONS")
    assert not ids.in_text("XSMITHSON")
    assert not ids.in_text("JOHN  SMITH")
    assert not ids.in_text("112/123456A")
    assert not ids.in_text("")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*sorted(WORDS), "A", "1", " ", "/", "-", "X1", "SMITH", "JOHN"])))
def test_the_search_agrees_with_the_regex(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _ids().in_text(text) == _regex(WORDS, text)
