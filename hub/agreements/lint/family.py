"""What a rule family is: a stable rule code, what passing it means, and the function that looks.

A rule family reads the defensive :class:`~hub.agreements.lint.document.Doc` and yields the
problems it finds; one that finds nothing is reported as passed, with its meaning. The order in
which families are reported is kept in ``hub.agreements.lint.rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hub.agreements.lint.document import Doc
from hub.agreements.lint.problem import Problem

Finder = Callable[[Doc], Iterable[Problem]]


@dataclass(frozen=True)
class Family:
    rule: str
    meaning: str  # what passing it means, shown when it finds nothing
    run: Finder


def family(rule: str, meaning: str) -> Callable[[Finder], Family]:
    """Make the decorated function the rule family ``rule``; list it in ``rules.FAMILIES``."""

    def define(run: Finder) -> Family:
        return Family(rule, meaning, run)

    return define
