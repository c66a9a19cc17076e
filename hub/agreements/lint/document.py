"""A defensive view of the raw YAML mapping, so rule families run even when the model does not.

Nothing here raises on a malformed agreement: a value of the wrong kind reads as None, a list
item that is not a mapping is skipped, and each field is read into a :class:`Field` whose
enum-valued keys are None unless they hold a value the model knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar, get_args

import yaml
from pydantic import TypeAdapter, ValidationError

from hub.agreements.lint.problem import Loc
from hub.agreements.model import (
    Classification,
    FieldType,
    GeneraliseRule,
    IdentifierType,
    Treatment,
)
from hub.agreements.positions import line_of

E = TypeVar("E", bound=StrEnum)
_INT = TypeAdapter(int)
_DATE = TypeAdapter(date)
_BOOL = TypeAdapter(bool)
_FIELD_TYPES: tuple[str, ...] = get_args(FieldType)


def as_int(value: object) -> int | None:
    try:
        return None if value is None else _INT.validate_python(value)
    except ValidationError:
        return None


def as_date(value: object) -> date | None:
    try:
        return None if value is None else _DATE.validate_python(value)
    except ValidationError:
        return None


def as_bool(value: object) -> bool | None:
    try:
        return None if value is None else _BOOL.validate_python(value)
    except ValidationError:
        return None


def as_enum(kind: type[E], value: object) -> E | None:
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def get(value: object, *keys: str) -> object:
    """The value at a path of mapping keys; None when any step is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def items(value: object) -> list[tuple[int, Mapping[str, Any]]]:
    """The mapping items of a list, with their indexes; anything else is skipped."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


@dataclass(frozen=True)
class Field:
    """One item of ``fields``, as far as it can be read."""

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
        output = as_text(self.raw.get("output"))
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


def _fields(raw: Mapping[str, Any]) -> tuple[Field, ...]:
    return tuple(
        Field(
            index=i,
            raw=item,
            name=as_text(item.get("name")),
            type=_field_type(item.get("type", "string")),
            classification=as_enum(Classification, item.get("classification")),
            treatment=as_enum(Treatment, item.get("treatment")),
            identifier=as_enum(IdentifierType, item.get("identifier")),
            rule=as_enum(GeneraliseRule, item.get("rule")),
        )
        for i, item in items(raw.get("fields"))
    )


@dataclass(frozen=True)
class Doc:
    """The raw mapping, its node tree (for lines) and its fields, as the rule families see them."""

    raw: Mapping[str, Any]
    root: yaml.Node | None
    fields: tuple[Field, ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any], root: yaml.Node | None) -> Doc:
        return cls(raw=raw, root=root, fields=_fields(raw))

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def line(self, loc: Loc) -> int | None:
        return line_of(self.root, loc)

    def names(self) -> list[str]:
        return [f.name for f in self.fields if f.name]
