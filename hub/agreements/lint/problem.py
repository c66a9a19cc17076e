"""A problem as a rule finds it: a location in the document, a message and a hint.

``Problem`` is what rule families and the schema translation produce; ``lint_text`` turns each
into a located :class:`~hub.agreements.lint.report.Check`. ``closest`` is the "did you mean"
shared by every hint that suggests a known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    hint: str
    warning: bool = False
    replaceable: bool = False  # a model error that a rule family's finding at loc explains better


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be, if any is close enough."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None
