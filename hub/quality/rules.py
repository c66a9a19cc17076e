"""From an agreement's quality rules to Great Expectations expectations on the staged view.

Validation runs on what the stage step wrote, never on what the partner sent: kept fields under
their names, generalised fields under ``FieldSpec.staged_name`` (``staging/.../data.parquet``)
and, for identifiers, their keyed tokens (``linkage/.../tokens.parquet``). Each rule of the
agreement becomes an expectation on the column it still makes sense on, or a ``Skipped`` entry
with the reason it cannot apply there (kept in the suite's meta: never dropped silently).

Every expectation carries ``meta``: ``severity``, ``field``, ``rule`` (the stable id reports
use), ``source`` ("agreement"), ``column`` and ``table`` (staging or tokens) it checks, and
``evaluated_by``: "gx" (Great Expectations, batch by batch) or "hub" (uniqueness across the whole
extract and every token check: computed by ``hub.quality.hub_checks``, so GX never sees a token).
This module is pure: it neither imports GX nor reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.agreements.model import (
    Agreement,
    CrossFieldRule,
    FieldSpec,
    GeneraliseRule,
    Severity,
    Treatment,
)
from hub.pipeline.identifiers import token_column

RECORD = "record"  # the row number (1-based) the stage step writes in both tables

# Suite parameters (GX ``{"$PARAMETER": name}``), given values by ``validate_staged``.
ARRIVAL_DATE = "arrival_date"
DAY_AFTER_ARRIVAL = "day_after_arrival"
PARAMETERS = {
    ARRIVAL_DATE: "the day the extract arrived: dates must not be after it",
    DAY_AFTER_ARRIVAL: "midnight after the day the extract arrived: datetimes must be before it",
}

# Stable rule ids used in reports (``cross_field:<name>`` for an agreement's cross-field rules).
NOT_NULL = "not_null"
ALLOWED_VALUES = "allowed_values"
PATTERN = "pattern"
RANGE = "range"
NOT_IN_FUTURE = "not_in_future"
UNIQUE = "unique"
CROSS_FIELD = "cross_field"

STAGING = "staging"
TOKENS = "tokens"
BY_GX = "gx"
BY_HUB = "hub"

_PSEUDONYMISED = (
    "pseudonymised: only its keyed token reaches the hub's zones, and the normaliser checks the "
    "form of the value as sent (counted in the stage report)"
)
_DROPPED = "dropped: the field is never stored, so there is nothing to check"
_ORDER = {
    "on_or_after": ("field", "other", True),
    "after": ("field", "other", False),
    "on_or_before": ("other", "field", True),
    "before": ("other", "field", False),
}
_WORDS = {
    "on_or_after": "on or after",
    "after": "after",
    "on_or_before": "on or before",
    "before": "before",
}


@dataclass(frozen=True)
class Skipped:
    """A rule of the agreement that cannot be checked on the staged view, and why."""

    field: str
    rule: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    """The expectations an agreement's rules become, and the rules skipped."""

    expectations: tuple[dict[str, Any], ...]
    skipped: tuple[Skipped, ...]


def severity_of(spec: FieldSpec) -> Severity:
    """A field's rules share one severity: its quality block's, else the model's default."""
    return spec.quality.severity if spec.quality is not None else Severity.WARNING


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def expectation(
    kind: str,
    kwargs: dict[str, Any],
    *,
    field: str,
    rule: str,
    severity: Severity,
    column: str,
    notes: str,
    table: str = STAGING,
    evaluated_by: str = BY_GX,
) -> dict[str, Any]:
    """One expectation in GX 1.x JSON form, with the hub's meta."""
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": {
            "column": column,
            "evaluated_by": evaluated_by,
            "field": field,
            "rule": rule,
            "severity": severity.value,
            "source": "agreement",
            "table": table,
        },
        "notes": notes,
        "severity": severity.value,
    }


class _FieldRules:
    """The expectations and skipped rules of one field."""

    def __init__(self, agreement: Agreement, spec: FieldSpec) -> None:
        self.agreement = agreement
        self.spec = spec
        self.severity = severity_of(spec)
        self.out: list[dict[str, Any]] = []
        self.skipped: list[Skipped] = []

    def skip(self, rule: str, reason: str) -> None:
        self.skipped.append(Skipped(self.spec.name, rule, reason))

    def add(
        self,
        kind: str,
        rule: str,
        column: str,
        notes: str,
        *,
        table: str = STAGING,
        evaluated_by: str = BY_GX,
        **kwargs: Any,
    ) -> None:
        what = f"{self.spec.name} ({self.spec.description})"
        self.out.append(
            expectation(
                kind,
                {"column": column, **kwargs},
                field=self.spec.name,
                rule=rule,
                severity=self.severity,
                column=column,
                notes=f"{what}: {notes}",
                table=table,
                evaluated_by=evaluated_by,
            )
        )

    def rules_asked(self) -> list[str]:
        """The rule ids this field's agreement entry asks for, in a stable order."""
        q = self.spec.quality
        asked = [NOT_NULL] if self.spec.required else []
        if q is None:
            return asked
        if q.allowed_values:
            asked.append(ALLOWED_VALUES)
        if q.pattern is not None:
            asked.append(PATTERN)
        if q.minimum is not None or q.maximum is not None:
            asked.append(RANGE)
        if q.not_in_future:
            asked.append(NOT_IN_FUTURE)
        if q.unique:
            asked.append(UNIQUE)
        return asked

    def plan(self) -> None:
        treatment = self.spec.treatment
        for rule in self.rules_asked():
            if treatment is Treatment.DROP:
                self.skip(rule, _DROPPED)
            elif treatment is Treatment.PSEUDONYMISE:
                self._on_tokens(rule)
            elif treatment is Treatment.GENERALISE:
                self._on_generalised(rule)
            else:
                self._on_kept(rule)

    # pseudonymised fields: only their tokens exist (linkage zone), checked by the hub
    def _on_tokens(self, rule: str) -> None:
        assert self.spec.identifier is not None  # the model requires it for pseudonymise
        column = token_column(self.spec.identifier)
        if rule == NOT_NULL:
            self.add(
                "expect_column_values_to_not_be_null",
                NOT_NULL,
                column,
                "required: every row has a usable value (its keyed token is not null; a missing "
                "or malformed identifier has none)",
                table=TOKENS,
                evaluated_by=BY_HUB,
            )
        elif rule == UNIQUE:
            self.add(
                "expect_column_values_to_be_unique",
                UNIQUE,
                column,
                "no two rows of the extract share a value (compared through keyed tokens)",
                table=TOKENS,
                evaluated_by=BY_HUB,
            )
        else:
            self.skip(rule, _PSEUDONYMISED)

    # generalised fields: only a coarser value is staged
    def _on_generalised(self, rule: str) -> None:
        spec = self.spec
        staged = spec.staged_name
        assert staged is not None and spec.rule is not None
        if rule == NOT_NULL:
            self.add(
                "expect_column_values_to_not_be_null",
                NOT_NULL,
                staged,
                f"required: every row has a value (checked on its generalised form, "
                f"{spec.rule.value}, which is null when the value was missing or could not be "
                "generalised)",
            )
        elif rule == NOT_IN_FUTURE and spec.rule is GeneraliseRule.DATE:
            self.add(
                "expect_column_values_to_be_between",
                NOT_IN_FUTURE,
                staged,
                "not after the day the extract arrived (checked on its date)",
                max_value={"$PARAMETER": ARRIVAL_DATE},
            )
        elif rule == UNIQUE and spec.identifier is not None:
            self._on_tokens(rule)
        else:
            self.skip(
                rule,
                f"generalised ({spec.rule.value}): the rule describes the value as sent, and "
                f"staging keeps only its generalised form ({staged})",
            )

    # kept fields: the typed value as sent (identifiers kept as their normalised value)
    def _on_kept(self, rule: str) -> None:
        spec, q = self.spec, self.spec.quality
        column, kind = spec.name, spec.type
        if rule == NOT_NULL:
            self.add(
                "expect_column_values_to_not_be_null",
                NOT_NULL,
                column,
                "required: every row has a value (a value that failed its type is null)",
            )
            return
        assert q is not None  # every other rule comes from the quality block
        if rule == ALLOWED_VALUES:
            self._allowed(q.allowed_values)
        elif rule == PATTERN and q.pattern is not None:
            if kind != "string":
                self.skip(rule, f"a pattern on a {kind} field: the staged value is typed, not text")
                return
            self.add(
                "expect_column_values_to_match_regex",
                PATTERN,
                column,
                "matches the agreement's pattern in full",
                regex=f"^(?:{q.pattern})$",
            )
        elif rule == RANGE:
            if kind != "integer":
                self.skip(rule, f"minimum and maximum apply to integer fields, not {kind}")
                return
            bounds: dict[str, Any] = {}
            if q.minimum is not None:
                bounds["min_value"] = _number(q.minimum)
            if q.maximum is not None:
                bounds["max_value"] = _number(q.maximum)
            self.add(
                "expect_column_values_to_be_between",
                RANGE,
                column,
                "within the agreement's minimum and maximum",
                **bounds,
            )
        elif rule == NOT_IN_FUTURE:
            self._not_in_future()
        elif rule == UNIQUE:
            self.add(
                "expect_column_values_to_be_unique",
                UNIQUE,
                column,
                "no two rows of the extract share a value (checked across the whole extract)",
                evaluated_by=BY_HUB,
            )

    def _allowed(self, allowed: tuple[str, ...]) -> None:
        kind = self.spec.type
        values: list[Any]
        if kind == "string":
            values = list(allowed)
        elif kind == "integer":
            try:
                values = [int(v) for v in allowed]
            except ValueError:
                self.skip(
                    ALLOWED_VALUES, "allowed values of an integer field must be whole numbers"
                )
                return
        else:
            self.skip(
                ALLOWED_VALUES,
                f"allowed values on a {kind} field: conform already admits only values of its type",
            )
            return
        self.add(
            "expect_column_values_to_be_in_set",
            ALLOWED_VALUES,
            self.spec.name,
            "one of the agreement's allowed values",
            value_set=values,
        )

    def _not_in_future(self) -> None:
        kind, column = self.spec.type, self.spec.name
        if kind == "date":
            self.add(
                "expect_column_values_to_be_between",
                NOT_IN_FUTURE,
                column,
                "not after the day the extract arrived",
                max_value={"$PARAMETER": ARRIVAL_DATE},
            )
        elif kind == "datetime":
            self.add(
                "expect_column_values_to_be_between",
                NOT_IN_FUTURE,
                column,
                "not after the day the extract arrived",
                max_value={"$PARAMETER": DAY_AFTER_ARRIVAL},
                strict_max=True,
            )
        else:
            self.skip(NOT_IN_FUTURE, f"not_in_future applies to dates and datetimes, not {kind}")


_DATE_KINDS = {"date": "date", "datetime": "datetime", "time": "time"}


def _comparable(spec: FieldSpec) -> str | None:
    """The staged column a cross-field rule can compare for this field, if any."""
    if spec.treatment is Treatment.KEEP and spec.type in _DATE_KINDS:
        return spec.name
    if spec.treatment is Treatment.GENERALISE and spec.rule is GeneraliseRule.DATE:
        return spec.staged_name
    return None


def _kind(spec: FieldSpec) -> str:
    return "date" if spec.treatment is Treatment.GENERALISE else spec.type


def cross_field(agreement: Agreement, rule: CrossFieldRule) -> dict[str, Any] | Skipped:
    """A rule between two fields of a row as a column-pair expectation, or why it is skipped."""
    rule_id = f"{CROSS_FIELD}:{rule.name}"
    try:
        field, other = agreement.field(rule.field), agreement.field(rule.other)
    except KeyError as exc:
        return Skipped(rule.field, rule_id, f"names a field the agreement does not have ({exc})")
    columns = {"field": _comparable(field), "other": _comparable(other)}
    for role, spec in (("field", field), ("other", other)):
        if columns[role] is None:
            return Skipped(
                rule.field,
                rule_id,
                f"{spec.name} is not staged as a date, datetime or time "
                f"({spec.treatment.value}, {spec.type})",
            )
    if _kind(field) != _kind(other):
        return Skipped(
            rule.field,
            rule_id,
            f"compares a {_kind(field)} ({field.name}) with a {_kind(other)} ({other.name})",
        )
    a, b, or_equal = _ORDER[rule.must_be]
    return expectation(
        "expect_column_pair_values_a_to_be_greater_than_b",
        {
            "column_A": columns[a],
            "column_B": columns[b],
            "ignore_row_if": "either_value_is_missing",
            "or_equal": or_equal,
        },
        field=rule.field,
        rule=rule_id,
        severity=rule.severity,
        column=str(columns["field"]),
        notes=(
            f"{rule.description}: {rule.field} is {_WORDS[rule.must_be]} {rule.other} "
            "(rows missing either are not compared)"
        ),
    )


def plan_agreement(agreement: Agreement) -> Plan:
    """Every rule of an agreement as an expectation or a skipped rule, in agreement order."""
    expectations: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for spec in agreement.fields:
        rules = _FieldRules(agreement, spec)
        rules.plan()
        expectations.extend(rules.out)
        skipped.extend(rules.skipped)
    for rule in agreement.quality_rules:
        made = cross_field(agreement, rule)
        if isinstance(made, Skipped):
            skipped.append(made)
        else:
            expectations.append(made)
    return Plan(tuple(expectations), tuple(skipped))


def staged_columns(agreement: Agreement) -> tuple[str, ...]:
    """The columns of the agreement's staged table: the record number, then staged fields."""
    names = [f.staged_name for f in agreement.fields]
    return (RECORD, *(n for n in names if n is not None))


def token_columns(agreement: Agreement) -> tuple[str, ...]:
    """The token columns of the agreement's tokens table (one per identifier type)."""
    kinds = dict.fromkeys(f.identifier for f in agreement.fields if f.identifier is not None)
    return tuple(token_column(k) for k in kinds if k is not None)
