"""Hand-written expectations, kept beside the generated ones in ``<agreement>.extra.json``.

The file is GX 1.x JSON (the ``expectations`` list of an ExpectationSuite) with the hub's meta::

    {
      "agreement": "police-sv",
      "notes": "why these checks exist (optional)",
      "expectations": [
        {
          "type": "expect_column_values_to_match_regex",
          "kwargs": {"column": "lsoa_code", "regex": "^[EW]0[0-9]{7}$"},
          "meta": {"rule": "lsoa_code_format", "severity": "warning"},
          "notes": "optional words shown in Data Docs"
        }
      ]
    }

Each expectation is refused, with the file and its position named, unless:

- ``type`` is a GX row-by-row expectation (column map, column pair map or multicolumn map), whose
  counts add up across batches, or ``expect_column_values_to_be_unique`` (checked by the hub across
  the whole extract); aggregate expectations (means, maxima, row counts...) are refused: they do
  not add up across batches and report observed values;
- ``kwargs`` are valid for that type (GX's own validation), name only columns of the agreement's
  staged table (never a token column: GX never sees tokens), set none of ``result_format``,
  ``catch_exceptions``, ``batch_id``, ``windows`` (the hub decides what results may hold), and use
  only the hub's suite parameters (``arrival_date``, ``day_after_arrival``);
- ``meta.rule`` is a stable id (``^[a-z][a-z0-9_]*$``) not used by another expectation on the same
  column, and ``meta.severity`` (or GX's own top-level ``severity``) is critical or warning
  (default warning).

The hub adds ``meta.source = "extra"``, ``field``, ``column``, ``table`` and ``evaluated_by``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hub.agreements.model import Agreement, Severity
from hub.errors import AgreementError
from hub.quality.rules import (
    BY_GX,
    BY_HUB,
    PARAMETERS,
    STAGING,
    staged_columns,
    token_columns,
)

EXTRA_SUFFIX = ".extra.json"
_TOP_KEYS = {"agreement", "expectations", "notes"}
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes", "severity"}
_FORBIDDEN_KWARGS = ("result_format", "catch_exceptions", "batch_id", "windows")
_HUB_UNIQUE = "expect_column_values_to_be_unique"
_REFUSED_MAP = {  # row-by-row in GX's hierarchy, but comparing rows with each other
    "expect_compound_columns_to_be_unique",
    "expect_multicolumn_values_to_be_unique",
}
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN_KEYS = ("column", "column_A", "column_B")


def extras_path(expectations_dir: Path, agreement_id: str) -> Path:
    return expectations_dir / f"{agreement_id}{EXTRA_SUFFIX}"


def _aggregatable(kind: str) -> str | None:
    """None when GX's ``kind`` adds up across batches; else why not (or that it is unknown)."""
    import great_expectations.expectations  # noqa: F401 (registers the core expectations)
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        impl = get_expectation_impl(kind)
    except Exception:
        return "is not a Great Expectations expectation type"
    if kind == _HUB_UNIQUE:
        return None
    if kind in _REFUSED_MAP or not issubclass(
        impl, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation
    ):
        return (
            "is not a row-by-row expectation: its result does not add up across batches and "
            "may report observed values"
        )
    return None


def _gx_problem(kind: str, kwargs: dict[str, Any], severity: str) -> str | None:
    """GX's own validation of the kwargs, as one line (the kwargs are the author's, not data)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    try:
        config = ExpectationConfiguration(
            type=kind, kwargs=kwargs, severity=FailureSeverity(severity)
        )
        config.to_domain_obj()
    except Exception as exc:
        return f"kwargs are not valid for {kind}: {_describe(exc)}"
    return None


def _describe(exc: Exception) -> str:
    """A pydantic error as ``key: message; ...``, anything else as its first line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            found = errors()
            return "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in found
            )
        except Exception:  # noqa: S110 (fall back to the message's first line)
            pass
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _columns(kwargs: dict[str, Any]) -> list[str]:
    named = [kwargs[k] for k in _COLUMN_KEYS if isinstance(kwargs.get(k), str)]
    listed = kwargs.get("column_list")
    if isinstance(listed, list):
        named.extend(c for c in listed if isinstance(c, str))
    return named


def _parameters(value: Any) -> set[str]:
    """Suite parameter names used anywhere in ``value``."""
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {str(value["$PARAMETER"])}
        return set().union(*(_parameters(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_parameters(v) for v in value)) if value else set()
    return set()


class _Checker:
    def __init__(self, agreement: Agreement, path: Path, taken: set[tuple[str, str]]) -> None:
        self.agreement = agreement
        self.path = path
        self.staged = set(staged_columns(agreement))
        self.tokens = set(token_columns(agreement))
        self.fields = {f.staged_name: f.name for f in agreement.fields if f.staged_name}
        self.taken = taken
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path.name}: {where}: {message}")

    def _shape(self, where: str, raw: Any) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """The type, kwargs and meta of a well-formed entry (else a problem, and None)."""
        if not isinstance(raw, dict):
            self.problem(where, "is not a JSON object")
            return None
        unknown = sorted(set(raw) - _EXPECTATION_KEYS)
        if unknown:
            self.problem(where, f"unknown keys {unknown} (allowed: {sorted(_EXPECTATION_KEYS)})")
            return None
        kind, kwargs, meta = raw.get("type"), raw.get("kwargs"), raw.get("meta", {})
        if not isinstance(kind, str):
            self.problem(where, "needs a `type` (a GX expectation type)")
            return None
        if not isinstance(kwargs, dict) or not isinstance(meta, dict):
            self.problem(where, "`kwargs` and `meta` must be JSON objects")
            return None
        return kind, kwargs, meta

    def _kwargs(self, where: str, kwargs: dict[str, Any]) -> list[str]:
        """Problems of the kwargs the hub cares about; the columns they name."""
        for key in _FORBIDDEN_KWARGS:
            if key in kwargs:
                self.problem(where, f"sets `{key}`, which the hub decides")
        unknown_params = sorted(_parameters(kwargs) - set(PARAMETERS))
        if unknown_params:
            self.problem(
                where, f"uses suite parameters {unknown_params} (known: {sorted(PARAMETERS)})"
            )
        columns = _columns(kwargs)
        if not columns:
            self.problem(where, "names no column")
        for column in columns:
            if column in self.tokens:
                self.problem(where, f"names the token column {column}: GX never sees tokens")
            elif column not in self.staged:
                self.problem(
                    where,
                    f"names column {column}, which is not in {self.agreement.id}'s staged table "
                    f"(columns: {', '.join(sorted(self.staged))})",
                )
        return columns

    def _severity(self, where: str, raw: dict[str, Any], meta: dict[str, Any]) -> str:
        severity = meta.get("severity", raw.get("severity", Severity.WARNING.value))
        if "severity" in meta and "severity" in raw and meta["severity"] != raw["severity"]:
            self.problem(where, "`severity` and `meta.severity` disagree")
        if severity not in {s.value for s in Severity}:
            self.problem(where, f"severity must be critical or warning, not {severity!r}")
        return str(severity)

    def _rule(self, where: str, meta: dict[str, Any], columns: list[str]) -> str:
        rule = meta.get("rule")
        if not isinstance(rule, str) or not _RULE_ID.match(rule):
            self.problem(where, "needs `meta.rule`, a stable id such as lsoa_code_format")
            return ""
        if columns and (columns[0], rule) in self.taken:
            self.problem(where, f"rule {rule} is already used on column {columns[0]}")
        return rule

    def check(self, i: int, raw: Any) -> dict[str, Any] | None:
        """The checked expectation with the hub's meta, or None (its problems recorded)."""
        kind = raw.get("type") if isinstance(raw, dict) else None
        where = f"expectation {i + 1}" + (f" ({kind})" if isinstance(kind, str) else "")
        shape = self._shape(where, raw)
        if shape is None:
            return None
        kind, kwargs, meta = shape
        why = _aggregatable(kind)
        if why:
            self.problem(where, f"{kind} {why}")
            return None
        before = len(self.problems)
        columns = self._kwargs(where, kwargs)
        severity = self._severity(where, raw, meta)
        rule = self._rule(where, meta, columns)
        if len(self.problems) > before:
            return None
        gx_problem = _gx_problem(kind, kwargs, severity)
        if gx_problem:
            self.problem(where, gx_problem)
            return None
        column = columns[0]
        self.taken.add((column, rule))
        merged = {
            **meta,
            "column": column,
            "evaluated_by": BY_HUB if kind == _HUB_UNIQUE else BY_GX,
            "field": meta.get("field", self.fields.get(column, column)),
            "rule": rule,
            "severity": severity,
            "source": "extra",
            "table": STAGING,
        }
        out: dict[str, Any] = {"type": kind, "kwargs": kwargs, "meta": merged}
        if "notes" in raw:
            out["notes"] = raw["notes"]
        out["severity"] = severity
        return out


def load_extras(
    agreement: Agreement, path: Path, taken: set[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The hand-written expectations of ``path`` (none when it does not exist), checked.

    ``taken`` holds the (column, rule) pairs already used by the generated suite. Every problem
    of the file is listed in one ``AgreementError`` naming the file and the expectation.
    """
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AgreementError(
            f"{path.name}: not valid JSON ({exc})", hint="see docs/quality.md for the format"
        ) from None
    hint = "see docs/quality.md (hand-written expectations) for the format"
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise AgreementError(f"{path.name}: needs an `expectations` list", hint=hint)
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise AgreementError(f"{path.name}: unknown keys {unknown}", hint=hint)
    if doc.get("agreement", agreement.id) != agreement.id:
        raise AgreementError(
            f"{path.name}: names agreement {doc.get('agreement')!r}, not {agreement.id}", hint=hint
        )
    checker = _Checker(agreement, path, set(taken or ()))
    found = [checker.check(i, raw) for i, raw in enumerate(doc["expectations"])]
    if checker.problems:
        raise AgreementError("\n".join(checker.problems), hint=hint)
    return [e for e in found if e is not None]
