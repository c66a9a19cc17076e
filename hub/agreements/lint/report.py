"""What a lint run returns: each check's status, rule, place, message and hint, and the report.

These are the public result types; every other module of the package only feeds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.agreements.model import Agreement


class CheckStatus(StrEnum):
    PASSED = "passed"
    WARNING = "warning"  # worth a second look; does not stop the agreement loading
    FAILED = "failed"  # the hub refuses the agreement until it is fixed


@dataclass(frozen=True)
class Check:
    """One result of a lint run: what rule, where, what is wrong and how to fix it."""

    status: CheckStatus
    rule: str  # a short stable code, e.g. ``lawful-basis-article9``
    message: str
    file: str
    line: int | None = None
    field: str | None = None  # the key's path, e.g. ``fields[3].classification``
    hint: str | None = None

    @property
    def where(self) -> str:
        """``file:line: field`` (the parts that are known)."""
        out = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{out}: {self.field}" if self.field else out

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.where}: {self.message}{hint}"


@dataclass(frozen=True)
class LintReport:
    """Every check of one file: problems in line order, then the rule families that passed."""

    path: str
    checks: tuple[Check, ...]
    agreement: Agreement | None  # the validated model; None when the model does not validate

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.FAILED)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.WARNING)

    @property
    def passed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.PASSED)

    @property
    def ok(self) -> bool:
        """No failures (warnings allowed): the hub will load this agreement."""
        return not self.failed
