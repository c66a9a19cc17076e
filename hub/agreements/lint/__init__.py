"""``hub agreement lint``: every problem in an agreement file at once, each with where and why.

Checks return results, not exceptions. A file is parsed once (``parsing``); the agreement model
validates it and every error is translated into a check that names the file, the line, the key
and a fix (``schema_errors``); then each rule family (``rules``, over the ``rules_*`` modules)
runs on a defensive view of the raw YAML mapping (``document``), whether the model validated or
not, so a typo in one place never hides a missing Article 9 condition in another. A rule family
that finds nothing is reported as passed, so the output shows what was checked.

Messages name keys, fields, parties and rules written in the agreement. They never quote data:
an agreement holds no rows, and the linter reads nothing else.
"""

from __future__ import annotations

from pathlib import Path

from hub.agreements.lint.document import Doc
from hub.agreements.lint.parsing import parse
from hub.agreements.lint.problem import Problem
from hub.agreements.lint.report import Check, CheckStatus, LintReport
from hub.agreements.lint.rules import FAMILIES, RULES
from hub.agreements.lint.rules_fields import LINKAGE_PART_EXTRAS
from hub.agreements.lint.schema_errors import SCHEMA_HINT, validate
from hub.agreements.positions import describe, line_of
from hub.errors import NotFoundError

__all__ = [
    "LINKAGE_PART_EXTRAS",
    "RULES",
    "SCHEMA_HINT",
    "Check",
    "CheckStatus",
    "LintReport",
    "lint_file",
    "lint_text",
]


def lint_file(path: Path) -> LintReport:
    """Lint one agreement file; the report names it as ``path`` was written.

    Raises ``NotFoundError`` only when there is no file to lint.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no agreement file {path}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        check = Check(
            CheckStatus.FAILED,
            "yaml",
            f"not UTF-8 text (byte {exc.start})",
            str(path),
            hint="save the file as UTF-8",
        )
        return LintReport(str(path), (check,), None)
    return lint_text(text, str(path))


def lint_text(text: str, name: str) -> LintReport:
    """Lint an agreement given as YAML text; ``name`` is the file name used in every check."""
    parsed = parse(text, name)
    if isinstance(parsed, Check):
        return LintReport(name, (parsed,), None)
    raw, root = parsed
    if not isinstance(raw, dict):
        check = Check(
            CheckStatus.FAILED,
            "schema",
            "an agreement is a YAML mapping of keys (id, version, title, ...)",
            name,
            line_of(root, ()),
            hint=SCHEMA_HINT,
        )
        return LintReport(name, (check,), None)

    doc = Doc.read(raw, root)
    problems: list[tuple[str, Problem]] = []
    for family in FAMILIES:
        problems.extend((family.rule, p) for p in family.run(doc))
    agreement, schema_problems = validate(raw)
    covered = [p.loc for _, p in problems]
    problems.extend(
        (rule, p)
        for rule, p in schema_problems
        if not (p.replaceable and any(loc[: len(p.loc)] == p.loc for loc in covered))
    )

    found = [
        Check(
            CheckStatus.WARNING if p.warning else CheckStatus.FAILED,
            rule,
            p.message,
            name,
            line_of(root, p.loc),
            describe(p.loc) or None,
            p.hint,
        )
        for rule, p in problems
    ]
    found.sort(key=lambda c: (c.line or 0, c.status is not CheckStatus.FAILED))
    spoken = {c.rule for c in found}
    passed = [
        Check(CheckStatus.PASSED, rule, meaning, name)
        for rule, meaning in RULES.items()
        if rule not in spoken
    ]
    return LintReport(name, (*found, *passed), agreement)
