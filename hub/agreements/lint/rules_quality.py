"""Rule families for data quality rules: patterns that compile, value checks on values the hub
keeps, and cross-field rules that compare fields of a date, datetime or time type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hub.agreements.lint.document import Doc, as_text, get, items
from hub.agreements.lint.family import family
from hub.agreements.lint.problem import Problem, closest
from hub.agreements.model import Treatment


@family("quality-pattern-invalid", "quality patterns are valid regular expressions")
def quality_patterns(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        pattern = get(f.raw, "quality", "pattern")
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            yield Problem(
                f.loc("quality", "pattern"),
                f"the quality pattern of field {f.label} is not a valid regular expression "
                f"({exc.msg})",
                "fix the expression; it must match the whole value (Python `re` syntax)",
            )


@family("quality-unchecked", "quality rules apply to values the hub keeps")
def quality_on_kept(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.treatment not in (Treatment.PSEUDONYMISE, Treatment.DROP):
            continue
        allowed = get(f.raw, "quality", "allowed_values")
        if isinstance(allowed, list) and allowed:
            yield Problem(
                f.loc("quality", "allowed_values"),
                f"field {f.label} is {f.treatment}d, so its allowed_values are checked on nothing",
                "remove allowed_values, or keep (or generalise) the field if its values matter",
                warning=True,
            )


@family("quality-rule-field", "cross-field rules compare date, datetime or time fields")
def cross_field_rules(doc: Doc) -> Iterator[Problem]:
    for i, rule in items(doc.raw.get("quality_rules")):
        name = as_text(rule.get("name")) or f"quality_rules[{i}]"
        for key in ("field", "other"):
            column = rule.get(key)
            if not isinstance(column, str):
                continue
            target = doc.field(column)
            if target is None:
                meant = closest(column, doc.names())
                yield Problem(
                    ("quality_rules", i, key),
                    f"quality rule '{name}' compares '{column}', which is not a field",
                    f"did you mean '{meant}'?" if meant else "name a field of this agreement",
                )
            elif target.type not in ("date", "datetime", "time"):
                yield Problem(
                    ("quality_rules", i, key),
                    f"quality rule '{name}' compares field '{column}' of type {target.type}; "
                    "cross-field rules compare dates, datetimes or times",
                    "name a date, datetime or time field, or set that field's `type:`",
                )
