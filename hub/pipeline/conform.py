"""Conform: cast each received column to the type its agreement declares.

Values that cannot be cast become null and are counted per row and rule; the report never
quotes them. Identifier fields stay strings here: the normalisers own their parsing.

Every step is element-wise (a value's result never depends on another row), so staging runs it
on a batch's distinct values and expands the results to rows (``hub.pipeline.stage``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import FieldSpec

DEFAULT_FORMATS = {
    "date": ("%Y-%m-%d",),
    "datetime": ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"),
    "time": ("%H:%M", "%H:%M:%S"),
}
TRUE_VALUES = ["Y", "YES", "TRUE", "T", "1"]
FALSE_VALUES = ["N", "NO", "FALSE", "F", "0"]


@dataclass(frozen=True)
class Conformed:
    """A field's typed values and its failures: ``(rule, mask)`` pairs, in the order they are
    tallied, each mask true where the value broke the rule."""

    values: pa.Array
    failures: tuple[tuple[str, pa.Array], ...]


def _blank_to_null(values: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _parse_times(values: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    parsed = pa.nulls(len(values), pa.timestamp("s"))
    for fmt in formats:
        attempt = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
    return parsed


def _typed(spec: FieldSpec, values: pa.Array) -> pa.Array:
    formats = spec.formats or DEFAULT_FORMATS.get(spec.type, ())
    if spec.type in ("flag", "boolean"):
        upper = pc.utf8_upper(values)
        return pc.if_else(
            pc.is_in(upper, pa.array(TRUE_VALUES)),
            True,
            pc.if_else(pc.is_in(upper, pa.array(FALSE_VALUES)), False, pa.scalar(None, pa.bool_())),
        )
    if spec.type == "integer":
        digits = pc.match_substring_regex(values, r"^[+-]?\d{1,18}$")
        safe = pc.if_else(digits, values, pa.scalar(None, pa.string()))
        return pc.cast(safe, pa.int64())
    if spec.type == "date":
        return pc.cast(_parse_times(values, formats), pa.date32())
    if spec.type == "datetime":
        return _parse_times(values, formats)
    if spec.type == "time":
        stamps = _parse_times(values, formats)
        seconds = pc.add(
            pc.multiply(pc.hour(stamps), 3600),
            pc.add(pc.multiply(pc.minute(stamps), 60), pc.second(stamps)),
        )
        return pc.cast(pc.cast(seconds, pa.int32()), pa.time32("s"))
    raise ValueError(spec.type)  # pragma: no cover - the model's Literal type rules it out


def conform(spec: FieldSpec, raw: pa.Array) -> Conformed:
    """The typed column for one field and its failures: ``required`` (a required value is
    missing) and ``type:<type>`` (a value that cannot be cast)."""
    values = _blank_to_null(raw)
    present = pc.is_valid(values)
    failures: list[tuple[str, pa.Array]] = []
    if spec.required:
        failures.append(("required", pc.invert(present)))
    if spec.identifier is not None or spec.type == "string":
        return Conformed(values, tuple(failures))
    typed = _typed(spec, values)
    failures.append((f"type:{spec.type}", pc.and_(present, pc.is_null(typed))))
    return Conformed(typed, tuple(failures))
