"""``hub agreement lint``: every problem in an agreement file at once, each with where and why.

Checks return results, not exceptions. A file is parsed once; the agreement model validates it and
every error is translated into a check that names the file, the line, the key and a fix; then each
rule family below runs on the raw YAML mapping, whether the model validated or not, so a typo in
one place never hides a missing Article 9 condition in another. A rule family that finds nothing
is reported as passed, so the output shows what was checked.

Messages name keys, fields, parties and rules written in the agreement. They never quote data:
an agreement holds no rows, and the linter reads nothing else.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin
from zoneinfo import available_timezones

import yaml
from croniter import croniter
from pydantic import BaseModel, TypeAdapter, ValidationError

from hub.agreements.model import (
    HUB_ROUND_TO,
    HUB_SUPPRESS_AT_OR_BELOW,
    LANDING_DAYS_MAX,
    Agreement,
    Classification,
    FieldType,
    GeneraliseRule,
    IdentifierType,
    Treatment,
)
from hub.agreements.positions import describe, line_of
from hub.errors import NotFoundError

LINKAGE_PART_EXTRAS = {
    "forename_initial": IdentifierType.FORENAME,  # built from the normalised forename
    "birth_year": IdentifierType.DATE_OF_BIRTH,  # built from the normalised date of birth
}
SCHEMA_HINT = "contracts/agreement.schema.json describes every key"

Loc = tuple[str | int, ...]


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
    parsed = _parse(text, name)
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

    doc = _Doc(raw=raw, root=root, fields=_fields(raw))
    problems: list[tuple[str, _Problem]] = []
    for family in _FAMILIES:
        problems.extend((family.rule, p) for p in family.run(doc))
    agreement, schema_problems = _validate(raw)
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


# ---------------------------------------------------------------------------------------------
# Parsing and the model's own validation


class _Loader(yaml.SafeLoader):
    """The safe loader, reporting an impossible date (2025-02-30) as a YAML error with a line."""


class _ImpossibleDate(yaml.constructor.ConstructorError):
    pass


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    assert isinstance(node, yaml.ScalarNode)
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        raise _ImpossibleDate(None, None, "not a real calendar date", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _parse(text: str, name: str) -> tuple[object, yaml.Node | None] | Check:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        raw = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        return Check(
            CheckStatus.FAILED,
            "yaml",
            f"not valid YAML: {problem}",
            name,
            None if mark is None else mark.line + 1,
            hint="write the date as YYYY-MM-DD, and check the day exists in that month"
            if isinstance(exc, _ImpossibleDate)
            else "check the indentation, colons and quotes on this line and the one before",
        )
    except (yaml.YAMLError, RecursionError):
        return Check(
            CheckStatus.FAILED,
            "yaml",
            "not valid YAML",
            name,
            hint="check the file opens in a YAML editor",
        )
    finally:
        loader.dispose()
    return raw, root


@dataclass(frozen=True)
class _Problem:
    loc: Loc
    message: str
    hint: str
    warning: bool = False
    replaceable: bool = False  # a model error that a rule family's finding at loc explains better


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


def _validate(raw: Mapping[str, Any]) -> tuple[Agreement | None, list[tuple[str, _Problem]]]:
    """The model's verdict, each error translated into a located problem with a hint."""
    try:
        return Agreement.model_validate(raw), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    problems: list[tuple[str, _Problem]] = []
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
            problems.append((rule, _Problem(loc, f"missing required {what}", hint)))
        elif kind == "enum" and loc[:1] == ("fields",) and loc[-1] == "identifier":
            problems.append(("identifier-type-unknown", _unknown_identifier(loc, error["input"])))
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            hint = _SCHEMA_HINTS.get(kind, SCHEMA_HINT)
            problems.append(
                ("schema", _Problem(loc, message, hint, replaceable=kind == "value_error"))
            )
    return None, problems


def _unknown_key(loc: Loc) -> tuple[_Problem, str | None]:
    key = str(loc[-1])
    message = f"unknown key '{key}'"
    if len(loc) == 1 and key in {"status", "signatures", "signed_by", "approved_by"}:
        return _Problem(loc, message, _STATUS_HINT), None
    known = _keys_at(loc[:-1])
    meant = _closest(key, known)
    if meant is not None:
        return _Problem(loc, message, f"did you mean '{meant}'?"), meant
    hint = f"known keys here: {', '.join(known)}" if known else "remove it"
    return _Problem(loc, message, hint), None


def _unknown_identifier(loc: Loc, value: object) -> _Problem:
    known = [t.value for t in IdentifierType]
    what = f"'{value}'" if isinstance(value, str) else "given"
    meant = _closest(value, known) if isinstance(value, str) else None
    hint = f"did you mean '{meant}'? " if meant else ""
    return _Problem(
        loc, f"unknown identifier type {what}", f"{hint}known types: {', '.join(known)}"
    )


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


def _closest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------
# A defensive view of the raw mapping: rule families run even when the model does not validate

E = TypeVar("E", bound=StrEnum)
_INT = TypeAdapter(int)
_DATE = TypeAdapter(date)
_BOOL = TypeAdapter(bool)
_FIELD_TYPES: tuple[str, ...] = get_args(FieldType)


def _as_int(value: object) -> int | None:
    try:
        return None if value is None else _INT.validate_python(value)
    except ValidationError:
        return None


def _as_date(value: object) -> date | None:
    try:
        return None if value is None else _DATE.validate_python(value)
    except ValidationError:
        return None


def _as_bool(value: object) -> bool | None:
    try:
        return None if value is None else _BOOL.validate_python(value)
    except ValidationError:
        return None


def _as_enum(kind: type[E], value: object) -> E | None:
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _get(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _items(value: object) -> list[tuple[int, Mapping[str, Any]]]:
    """The mapping items of a list, with their indexes; anything else is skipped."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


@dataclass(frozen=True)
class _Field:
    index: int
    raw: Mapping[str, Any]
    name: str | None
    type: str | None  # None when the written type is not one the model knows
    classification: Classification | None
    treatment: Treatment | None
    identifier: IdentifierType | None
    rule: GeneraliseRule | None

    @property
    def label(self) -> str:
        return f"'{self.name}'" if self.name else f"fields[{self.index}]"

    def loc(self, *rest: str | int) -> Loc:
        return ("fields", self.index, *rest)

    def staged_names(self) -> set[str]:
        """Columns this field may become in staging (every candidate when it is half-written)."""
        output = _text(self.raw.get("output"))
        if self.treatment is Treatment.KEEP and self.name:
            return {self.name}
        if self.treatment is Treatment.GENERALISE:
            if output:
                return {output}
            return {f"{self.name}_{self.rule.value}"} if self.rule and self.name else set()
        if self.treatment is None:
            return {n for n in (self.name, output) if n}
        return set()


def _field_type(value: object) -> str | None:
    return value if isinstance(value, str) and value in _FIELD_TYPES else None


def _fields(raw: Mapping[str, Any]) -> tuple[_Field, ...]:
    return tuple(
        _Field(
            index=i,
            raw=item,
            name=_text(item.get("name")),
            type=_field_type(item.get("type", "string")),
            classification=_as_enum(Classification, item.get("classification")),
            treatment=_as_enum(Treatment, item.get("treatment")),
            identifier=_as_enum(IdentifierType, item.get("identifier")),
            rule=_as_enum(GeneraliseRule, item.get("rule")),
        )
        for i, item in _items(raw.get("fields"))
    )


@dataclass(frozen=True)
class _Doc:
    raw: Mapping[str, Any]
    root: yaml.Node | None
    fields: tuple[_Field, ...]

    def field(self, name: str) -> _Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def line(self, loc: Loc) -> int | None:
        return line_of(self.root, loc)

    def names(self) -> list[str]:
        return [f.name for f in self.fields if f.name]


# ---------------------------------------------------------------------------------------------
# Rule families: one small function each, registered in order


@dataclass(frozen=True)
class _Family:
    rule: str
    meaning: str  # what passing it means, shown when it finds nothing
    run: Callable[[_Doc], Iterable[_Problem]]


def _nothing(_doc: _Doc) -> Iterator[_Problem]:
    yield from ()


# Families whose findings come from parsing and the model's validation, not from a function here.
_FAMILIES: list[_Family] = [
    _Family("yaml", "the file is valid YAML", _nothing),
    _Family("schema", "every key has a value of the right kind", _nothing),
    _Family("unknown-key", "every key is one the agreement model knows", _nothing),
    _Family("retention-missing", "retention is set for every zone", _nothing),
]


def _family(rule: str, meaning: str) -> Callable[[Callable[[_Doc], Iterable[_Problem]]], Any]:
    def register(run: Callable[[_Doc], Iterable[_Problem]]) -> Callable[[_Doc], Iterable[_Problem]]:
        _FAMILIES.append(_Family(rule, meaning, run))
        return run

    return register


def _lines(first: int, key: yaml.Node) -> str:
    again = key.start_mark.line + 1
    return f"line {first}" if again == first else f"lines {first} and {again}"


@_family("duplicate-key", "no key is written twice in one mapping")
def _duplicate_keys(doc: _Doc) -> Iterator[_Problem]:
    seen: set[int] = set()

    def walk(node: yaml.Node, loc: Loc) -> Iterator[_Problem]:
        if id(node) in seen:  # an alias: walked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from walk(item, (*loc, i))
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if isinstance(name, str) and name in first:
                    yield _Problem(
                        (*loc, name),
                        f"key '{name}' is written twice ({_lines(first[name], key)}); "
                        "YAML keeps only the last",
                        "remove one of them",
                    )
                elif isinstance(name, str):
                    first[name] = key.start_mark.line + 1
                yield from walk(value, (*loc, name if name is not None else "?"))

    if doc.root is not None:
        yield from walk(doc.root, ())


def _some(labels: list[str], shown: int = 4) -> str:
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return ", ".join(labels[:shown]) + more


@_family("lawful-basis-article9", "special category fields have an Article 9 condition")
def _article9(doc: _Doc) -> Iterator[_Problem]:
    special = [f.label for f in doc.fields if f.classification is Classification.SPECIAL_CATEGORY]
    if special and not _filled(_get(doc.raw, "lawful_basis", "article9")):
        yield _Problem(
            ("lawful_basis", "article9"),
            f"special category data ({_some(special)}) needs an Article 9 condition, "
            "and lawful_basis has no article9",
            "add lawful_basis.article9 naming the UK GDPR Article 9(2) condition (and DPA 2018 "
            "Schedule 1 condition) relied on, or reclassify the fields if they are not health data",
        )


@_family("lawful-basis-article10", "criminal offence fields have an Article 10 condition")
def _article10(doc: _Doc) -> Iterator[_Problem]:
    criminal = [f.label for f in doc.fields if f.classification is Classification.CRIMINAL_OFFENCE]
    if criminal and not _filled(_get(doc.raw, "lawful_basis", "article10")):
        yield _Problem(
            ("lawful_basis", "article10"),
            f"criminal offence data ({_some(criminal)}) needs an Article 10 condition, "
            "and lawful_basis has no article10",
            "add lawful_basis.article10 naming the DPA 2018 Schedule 1 condition relied on",
        )


@_family("identifier-not-protected", "direct identifiers are pseudonymised or dropped")
def _direct_identifiers(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.classification is not Classification.DIRECT_IDENTIFIER or f.treatment is None:
            continue
        if f.treatment not in (Treatment.PSEUDONYMISE, Treatment.DROP):
            yield _Problem(
                f.loc("treatment"),
                f"field {f.label} is a direct identifier but its treatment is {f.treatment}: "
                "a direct identifier must never reach staging",
                "set `treatment: pseudonymise` with its `identifier:` type, or `treatment: drop`",
            )


@_family("free-text-unjustified", "free text is dropped, or kept with a justification")
def _free_text(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.classification is not Classification.FREE_TEXT:
            continue
        if f.treatment in (Treatment.KEEP, Treatment.GENERALISE) and not _filled(
            f.raw.get("justification")
        ):
            yield _Problem(
                f.loc("justification"),
                f"free-text field {f.label} is kept without a justification",
                "use `treatment: drop`, or add `justification:` saying why the text is needed "
                "and how identifying detail is kept out of it",
            )


@_family("treatment-incomplete", "pseudonymised fields name an identifier type, generalised a rule")
def _treatment_complete(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.treatment is Treatment.PSEUDONYMISE and f.raw.get("identifier") is None:
            yield _Problem(
                f.loc("identifier"),
                f"field {f.label} is pseudonymised but names no identifier type",
                f"add `identifier:` one of {', '.join(t.value for t in IdentifierType)}",
            )
        if f.treatment is Treatment.GENERALISE and f.raw.get("rule") is None:
            yield _Problem(
                f.loc("rule"),
                f"field {f.label} is generalised but names no rule",
                f"add `rule:` one of {', '.join(r.value for r in GeneraliseRule)}",
            )


_RULE_NEEDS_IDENTIFIER = {
    GeneraliseRule.AGE_BAND: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.AGE: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.BIRTH_YEAR: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.POSTCODE_DISTRICT: IdentifierType.POSTCODE,
    GeneraliseRule.LSOA: IdentifierType.POSTCODE,
}
_RULE_NEEDS_TYPE = {
    GeneraliseRule.AGE_BAND_FROM_AGE: ("integer",),
    GeneraliseRule.DATE: ("date", "datetime"),
    GeneraliseRule.WEEK: ("date", "datetime"),
    GeneraliseRule.MONTH: ("date", "datetime"),
    GeneraliseRule.HOUR: ("datetime", "time"),
}


@_family("generalise-rule-mismatch", "generalise rules fit the fields they generalise")
def _rule_fits(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.treatment is not Treatment.GENERALISE or f.rule is None:
            continue
        needs = _RULE_NEEDS_IDENTIFIER.get(f.rule)
        written = f.raw.get("identifier")
        if needs is not None and f.identifier is not needs and (written is None or f.identifier):
            yield _Problem(
                f.loc("rule"),
                f"rule {f.rule} needs a field with identifier {needs}, and field {f.label} "
                f"is {'identifier ' + f.identifier if f.identifier else 'not an identifier'}",
                f"use a rule that fits the field, or set `identifier: {needs}` if it holds one"
                + (
                    " (an age in years takes age_band_from_age)" if needs == "date_of_birth" else ""
                ),
            )
        types_ = _RULE_NEEDS_TYPE.get(f.rule)
        if types_ is not None and f.type is not None and f.type not in types_:
            yield _Problem(
                f.loc("rule"),
                f"rule {f.rule} needs a field of type {' or '.join(types_)}, "
                f"and field {f.label} is {f.type}",
                f"set `type: {types_[0]}` if that is what the field holds, or use another rule",
            )


@_family("relative-to-invalid", "ages are computed at a date field that is received")
def _relative_to(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.treatment is not Treatment.GENERALISE:
            continue
        if f.rule not in (GeneraliseRule.AGE, GeneraliseRule.AGE_BAND):
            continue
        target_name = f.raw.get("relative_to")
        if not isinstance(target_name, str):
            yield _Problem(
                f.loc("relative_to"),
                f"field {f.label} computes an age but names no relative_to date",
                "add `relative_to:` naming the date or datetime field of the event",
            )
            continue
        target = doc.field(target_name)
        meant = _closest(target_name, doc.names())
        if target is None:
            yield _Problem(
                f.loc("relative_to"),
                f"relative_to names '{target_name}', which is not a field of this agreement",
                f"did you mean '{meant}'?" if meant else "name a date or datetime field",
            )
        elif target.type not in ("date", "datetime") or target.treatment is Treatment.DROP:
            what = "dropped" if target.treatment is Treatment.DROP else f"of type {target.type}"
            yield _Problem(
                f.loc("relative_to"),
                f"relative_to names field '{target_name}', which is {what}, "
                "not a received date or datetime",
                "name a date or datetime field that is kept, or set that field's `type:`",
            )


@_family("duplicate-field", "field names are unique")
def _duplicate_fields(doc: _Doc) -> Iterator[_Problem]:
    first: dict[str, _Field] = {}
    for f in doc.fields:
        if f.name is None:
            continue
        if f.name in first:
            lines = (doc.line(first[f.name].loc("name")), doc.line(f.loc("name")))
            yield _Problem(
                f.loc("name"),
                f"field name '{f.name}' is used twice (lines {lines[0]} and {lines[1]})",
                "describe each column the partner sends once: rename or remove one",
            )
        else:
            first[f.name] = f


def _linkage_parts(doc: _Doc) -> Iterator[tuple[str, Loc, object]]:
    for i, key in _items(doc.raw.get("linkage_keys")):
        parts = key.get("parts")
        if isinstance(parts, list):
            name = key.get("name") if isinstance(key.get("name"), str) else f"linkage_keys[{i}]"
            for j, part in enumerate(parts):
                yield str(name), ("linkage_keys", i, "parts", j), part


@_family("identifier-type-unknown", "identifier types and linkage key parts are known")
def _linkage_part_types(doc: _Doc) -> Iterator[_Problem]:
    known = [t.value for t in IdentifierType] + list(LINKAGE_PART_EXTRAS)
    for key, loc, part in _linkage_parts(doc):
        if isinstance(part, str) and part in known:
            continue
        what = f"'{part}'" if isinstance(part, str) else "given"
        meant = _closest(part, known) if isinstance(part, str) else None
        yield _Problem(
            loc,
            f"linkage key '{key}' has an unknown part {what}",
            ("did you mean '" + meant + "'? " if meant else "")
            + f"parts are identifier types or derived parts: {', '.join(known)}",
        )


@_family("linkage-key-incomplete", "every linkage key part comes from a received identifier")
def _linkage_parts_carried(doc: _Doc) -> Iterator[_Problem]:
    carried = {
        f.identifier
        for f in doc.fields
        if f.identifier is not None and f.treatment is not Treatment.DROP
    }
    for key, loc, part in _linkage_parts(doc):
        if not isinstance(part, str):
            continue
        needs = LINKAGE_PART_EXTRAS.get(part) or _as_enum(IdentifierType, part)
        if needs is not None and needs not in carried:
            yield _Problem(
                loc,
                f"linkage key '{key}' uses {part}, but no received field carries "
                f"identifier {needs}",
                f"add the field with `identifier: {needs}` (not dropped), or remove the part",
            )


@_family("party-unknown", "the provider and the hub controller are parties")
def _roles_are_parties(doc: _Doc) -> Iterator[_Problem]:
    orgs = [org for _, p in _items(doc.raw.get("parties")) if (org := _text(p.get("org")))]
    for key in ("provider", "hub_controller"):
        org = doc.raw.get(key)
        if isinstance(org, str) and org not in orgs:
            meant = _closest(org, orgs)
            yield _Problem(
                (key,),
                f"{key} '{org}' is not one of the parties",
                f"did you mean '{meant}'?"
                if meant
                else "add it to parties with its role and data protection lead",
            )


@_family("duplicate-party", "each party is listed once")
def _duplicate_parties(doc: _Doc) -> Iterator[_Problem]:
    first: dict[str, int] = {}
    for i, party in _items(doc.raw.get("parties")):
        org = _text(party.get("org"))
        if org is None:
            continue
        if org in first:
            lines = (doc.line(("parties", first[org], "org")), doc.line(("parties", i, "org")))
            yield _Problem(
                ("parties", i, "org"),
                f"party '{org}' is listed twice (lines {lines[0]} and {lines[1]})",
                "list each organisation once, with one role and one data protection lead",
            )
        else:
            first[org] = i


@_family("validity-window", "valid_until is on or after valid_from")
def _validity_window(doc: _Doc) -> Iterator[_Problem]:
    start, end = _as_date(doc.raw.get("valid_from")), _as_date(doc.raw.get("valid_until"))
    if start is not None and end is not None and end < start:
        yield _Problem(
            ("valid_until",),
            f"valid_until ({end}) is before valid_from ({start})",
            "swap the dates, or correct the year",
        )


@_family("review-date", "the review date falls inside the validity window")
def _review_date(doc: _Doc) -> Iterator[_Problem]:
    start, end = _as_date(doc.raw.get("valid_from")), _as_date(doc.raw.get("valid_until"))
    review = _as_date(doc.raw.get("review_date"))
    if start is None or end is None or review is None or end < start:
        return
    if review > end:
        message = f"review_date ({review}) is after valid_until ({end}): it ends unreviewed"
    elif review < start:
        message = f"review_date ({review}) is before valid_from ({start})"
    else:
        return
    yield _Problem(
        ("review_date",), message, "set a review date inside the validity window", warning=True
    )


@_family(
    "retention-landing", f"the landing zone keeps raw extracts {LANDING_DAYS_MAX} days at most"
)
def _landing_retention(doc: _Doc) -> Iterator[_Problem]:
    days = _as_int(_get(doc.raw, "retention", "landing_days"))
    if days is not None and days > LANDING_DAYS_MAX:
        yield _Problem(
            ("retention", "landing_days"),
            f"landing_days is {days}: raw extracts in the landing zone should be short-lived",
            f"raw extracts are deleted once staged; keep landing_days at {LANDING_DAYS_MAX} or "
            "fewer (14 is usual)",
            warning=True,
        )


@_family("schedule-invalid", "delivery.schedule is a five-field cron expression")
def _schedule(doc: _Doc) -> Iterator[_Problem]:
    schedule = _get(doc.raw, "delivery", "schedule")
    if isinstance(schedule, str) and not (
        len(schedule.split()) == 5 and croniter.is_valid(schedule)
    ):
        yield _Problem(
            ("delivery", "schedule"),
            f"delivery.schedule '{schedule}' is not a five-field cron expression",
            'write minute hour day-of-month month day-of-week, e.g. "0 6 5 * *" for 06:00 on '
            "the 5th of every month",
        )


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@_family("timezone-unknown", "delivery.timezone is a known time zone")
def _timezone(doc: _Doc) -> Iterator[_Problem]:
    zone = _get(doc.raw, "delivery", "timezone")
    if isinstance(zone, str) and zone not in _time_zones():
        meant = _closest(zone, _time_zones())
        yield _Problem(
            ("delivery", "timezone"),
            f"delivery.timezone '{zone}' is not a known time zone",
            f"did you mean '{meant}'?" if meant else "use an IANA zone name such as Europe/London",
        )


_LOOSER = (
    f"looser than the hub's defaults (suppress counts of {HUB_SUPPRESS_AT_OR_BELOW} or fewer, "
    f"round to {HUB_ROUND_TO})"
)


@_family("disclosure-looser", "disclosure control is at least as strict as the hub's defaults")
def _disclosure_strict(doc: _Doc) -> Iterator[_Problem]:
    suppress = _as_int(_get(doc.raw, "disclosure", "suppress_at_or_below"))
    if suppress is not None and suppress < HUB_SUPPRESS_AT_OR_BELOW:
        yield _Problem(
            ("disclosure", "suppress_at_or_below"),
            f"suppress_at_or_below {suppress} is {_LOOSER}",
            f"agreements may be stricter than the hub, never looser: use "
            f"{HUB_SUPPRESS_AT_OR_BELOW} or more",
        )
    round_to = _as_int(_get(doc.raw, "disclosure", "round_to"))
    if round_to is not None and round_to < HUB_ROUND_TO:
        yield _Problem(
            ("disclosure", "round_to"),
            f"round_to {round_to} is {_LOOSER}",
            f"agreements may be stricter than the hub, never looser: use {HUB_ROUND_TO} or a "
            f"larger multiple of {HUB_ROUND_TO}",
        )


@_family("disclosure-rounding", f"round_to is a multiple of {HUB_ROUND_TO}")
def _disclosure_rounding(doc: _Doc) -> Iterator[_Problem]:
    round_to = _as_int(_get(doc.raw, "disclosure", "round_to"))
    if round_to is not None and round_to > HUB_ROUND_TO and round_to % HUB_ROUND_TO:
        yield _Problem(
            ("disclosure", "round_to"),
            f"round_to {round_to} is not a multiple of {HUB_ROUND_TO}",
            f"use a multiple of {HUB_ROUND_TO} (e.g. 10) so outputs compare across agreements",
            warning=True,
        )


def _staged_column_problem(doc: _Doc, loc: Loc, column: str) -> _Problem | None:
    staged = set().union(*(f.staged_names() for f in doc.fields))
    if column in staged:
        return None
    source = doc.field(column)
    if source is not None and source.treatment in (Treatment.PSEUDONYMISE, Treatment.DROP):
        message = f"field '{column}' is {source.treatment}d, so nothing of it is staged"
    else:
        message = f"'{column}' is not a staged column of this agreement"
    meant = _closest(column, staged)
    return _Problem(
        loc,
        message,
        (f"did you mean '{meant}'? " if meant else "")
        + f"staged columns: {', '.join(sorted(staged)) or 'none'}",
    )


@_family("publication-field-unknown", "publication reads columns that are staged")
def _publication_columns(doc: _Doc) -> Iterator[_Problem]:
    publication = doc.raw.get("publication")
    if not isinstance(publication, Mapping):
        return
    for key, value in publication.items():
        if isinstance(key, str) and key.endswith("_field") and isinstance(value, str):
            problem = _staged_column_problem(doc, ("publication", key), value)
            if problem is not None:
                yield problem
    flags = publication.get("flags")
    if isinstance(flags, Mapping):
        for flag, spec in flags.items():
            column = _get(spec, "field")
            if isinstance(column, str):
                problem = _staged_column_problem(
                    doc, ("publication", "flags", str(flag), "field"), column
                )
                if problem is not None:
                    yield problem


@_family("quality-pattern-invalid", "quality patterns are valid regular expressions")
def _quality_patterns(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        pattern = _get(f.raw, "quality", "pattern")
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            yield _Problem(
                f.loc("quality", "pattern"),
                f"the quality pattern of field {f.label} is not a valid regular expression "
                f"({exc.msg})",
                "fix the expression; it must match the whole value (Python `re` syntax)",
            )


@_family("quality-unchecked", "quality rules apply to values the hub keeps")
def _quality_on_kept(doc: _Doc) -> Iterator[_Problem]:
    for f in doc.fields:
        if f.treatment not in (Treatment.PSEUDONYMISE, Treatment.DROP):
            continue
        allowed = _get(f.raw, "quality", "allowed_values")
        if isinstance(allowed, list) and allowed:
            yield _Problem(
                f.loc("quality", "allowed_values"),
                f"field {f.label} is {f.treatment}d, so its allowed_values are checked on nothing",
                "remove allowed_values, or keep (or generalise) the field if its values matter",
                warning=True,
            )


@_family("quality-rule-field", "cross-field rules compare date, datetime or time fields")
def _cross_field_rules(doc: _Doc) -> Iterator[_Problem]:
    for i, rule in _items(doc.raw.get("quality_rules")):
        name = _text(rule.get("name")) or f"quality_rules[{i}]"
        for key in ("field", "other"):
            column = rule.get(key)
            if not isinstance(column, str):
                continue
            target = doc.field(column)
            if target is None:
                meant = _closest(column, doc.names())
                yield _Problem(
                    ("quality_rules", i, key),
                    f"quality rule '{name}' compares '{column}', which is not a field",
                    f"did you mean '{meant}'?" if meant else "name a field of this agreement",
                )
            elif target.type not in ("date", "datetime", "time"):
                yield _Problem(
                    ("quality_rules", i, key),
                    f"quality rule '{name}' compares field '{column}' of type {target.type}; "
                    "cross-field rules compare dates, datetimes or times",
                    "name a date, datetime or time field, or set that field's `type:`",
                )


@_family("output-access-empty", "someone may use the outputs (output_access is not empty)")
def _output_access_named(doc: _Doc) -> Iterator[_Problem]:
    access = doc.raw.get("output_access")
    if isinstance(access, list) and not access:
        yield _Problem(
            ("output_access",),
            "output_access is empty: nobody may use the outputs of this agreement",
            "add `- {who: ..., purpose: ...}` for each group that may use the outputs",
        )


@_family("output-access-row-level", "outputs are disclosure-controlled aggregates only")
def _output_access_aggregates(doc: _Doc) -> Iterator[_Problem]:
    for i, entry in _items(doc.raw.get("output_access")):
        if _as_bool(entry.get("row_level")):
            who = _text(entry.get("who")) or f"output_access[{i}]"
            yield _Problem(
                ("output_access", i, "row_level"),
                f"'{who}' may read pseudonymised row-level data, not only aggregates",
                "keep row_level false unless the DPIA covers analysts reading pseudonymised rows",
                warning=True,
            )


RULES: Mapping[str, str] = {family.rule: family.meaning for family in _FAMILIES}
"""Every rule code, with what it means when it passes, in the order they are reported."""
