"""The agreement model's verdict, each pydantic error translated into a located problem.

Misspelt keys get a "did you mean" from the keys the model accepts at that place (and the
"missing" error the misspelling causes is dropped); unknown identifier types list the known ones;
missing retention explains what to write; lifecycle keys written in the file say where the
lifecycle is kept instead.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from hub.agreements.lint.problem import Loc, Problem, closest
from hub.agreements.model import Agreement, IdentifierType

SCHEMA_HINT = "contracts/agreement.schema.json describes every key"

_STATUS_HINT = (
    "lifecycle status and signatures are kept by the hub, not written in the file: "
    "submit it with `hub agreement submit` and the data protection leads approve it in the hub"
)

_SCHEMA_HINTS = {
    "string_pattern_mismatch": "use lower-case letters, digits and the separators shown",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date as YYYY-MM-DD, without a time",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "float_parsing": "write a number",
    "string_type": "write text (quote it if YAML reads it as a number, date or true/false)",
    "tuple_type": "write a list (`- item` lines, or items in square brackets)",
    "list_type": "write a list (`- item` lines, or items in square brackets)",
    "model_type": "write a mapping of keys",
    "model_attributes_type": "write a mapping of keys",
    "dict_type": "write a mapping of keys",
    "greater_than_equal": "use a larger number",
    "string_too_short": "write the full value",
    "value_error": "complete the field as the message says",
}


def validate(raw: Mapping[str, Any]) -> tuple[Agreement | None, list[tuple[str, Problem]]]:
    """The model's verdict, each error translated into a located problem with a hint."""
    try:
        return Agreement.model_validate(raw), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    problems: list[tuple[str, Problem]] = []
    typo_for: set[Loc] = set()  # missing keys explained by a misspelt key beside them
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and loc:
            problem, meant = _unknown_key(loc)
            problems.append(("unknown-key", problem))
            if meant is not None:
                typo_for.add((*loc[:-1], meant))
    for error in errors:
        loc, kind = tuple(error["loc"]), error["type"]
        if kind == "extra_forbidden" or (kind == "missing" and loc in typo_for):
            continue
        if kind == "missing" and loc:
            rule = "retention-missing" if loc[0] == "retention" else "schema"
            what = "retention" if loc == ("retention",) else f"key '{loc[-1]}'"
            hint = (
                "set retention in days for each zone: "
                "{landing_days: 14, staging_days: ..., linkage_days: ..., published_days: ...}"
                if rule == "retention-missing"
                else f"add `{loc[-1]}:`; {SCHEMA_HINT}"
            )
            problems.append((rule, Problem(loc, f"missing required {what}", hint)))
        elif kind == "enum" and loc[:1] == ("fields",) and loc[-1] == "identifier":
            problems.append(("identifier-type-unknown", _unknown_identifier(loc, error["input"])))
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            hint = _SCHEMA_HINTS.get(kind, SCHEMA_HINT)
            problems.append(
                ("schema", Problem(loc, message, hint, replaceable=kind == "value_error"))
            )
    return None, problems


def _unknown_key(loc: Loc) -> tuple[Problem, str | None]:
    key = str(loc[-1])
    message = f"unknown key '{key}'"
    if len(loc) == 1 and key in {"status", "signatures", "signed_by", "approved_by"}:
        return Problem(loc, message, _STATUS_HINT), None
    known = _keys_at(loc[:-1])
    meant = closest(key, known)
    if meant is not None:
        return Problem(loc, message, f"did you mean '{meant}'?"), meant
    hint = f"known keys here: {', '.join(known)}" if known else "remove it"
    return Problem(loc, message, hint), None


def _unknown_identifier(loc: Loc, value: object) -> Problem:
    known = [t.value for t in IdentifierType]
    what = f"'{value}'" if isinstance(value, str) else "given"
    meant = closest(value, known) if isinstance(value, str) else None
    hint = f"did you mean '{meant}'? " if meant else ""
    return Problem(loc, f"unknown identifier type {what}", f"{hint}known types: {', '.join(known)}")


def _keys_at(loc: Loc) -> list[str]:
    """The keys the agreement model accepts at a location (for "did you mean")."""
    annotation: Any = Agreement
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    annotation = _optional_inner(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _optional_inner(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(str(part))
        return None if info is None else info.annotation
    args = get_args(annotation)
    if get_origin(annotation) is tuple and args:
        return args[0]
    if get_origin(annotation) is dict and len(args) == 2:
        return args[1]
    return None


def _optional_inner(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return inner[0] if len(inner) == 1 else annotation
    return annotation
