"""Conform: cast each received column to the type its agreement declares.

Values that cannot be cast become null and are counted per row and rule; the report never
quotes them. Identifier fields stay strings here: the normalisers own their parsing.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import FieldSpec
from hub.pipeline.report import QualityTally

DEFAULT_FORMATS = {
    "date": ("%Y-%m-%d",),
    "datetime": ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"),
    "time": ("%H:%M", "%H:%M:%S"),
}
TRUE_VALUES = ["Y", "YES", "TRUE", "T", "1"]
FALSE_VALUES = ["N", "NO", "FALSE", "F", "0"]


def _blank_to_null(values: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _parse_times(values: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    parsed = pa.nulls(len(values), pa.timestamp("s"))
    for fmt in formats:
        attempt = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
    return parsed


def cast_field(spec: FieldSpec, raw: pa.Array, rows: pa.Array, tally: QualityTally) -> pa.Array:
    """The typed column for one field; failures are tallied under rule ``type:<type>``."""
    values = _blank_to_null(raw)
    present = pc.is_valid(values)
    if spec.required:
        tally.add(spec.name, "required", pc.invert(present), rows)
    if spec.identifier is not None or spec.type == "string":
        return values
    formats = spec.formats or DEFAULT_FORMATS.get(spec.type, ())
    if spec.type in ("flag", "boolean"):
        upper = pc.utf8_upper(values)
        typed = pc.if_else(
            pc.is_in(upper, pa.array(TRUE_VALUES)),
            True,
            pc.if_else(pc.is_in(upper, pa.array(FALSE_VALUES)), False, pa.scalar(None, pa.bool_())),
        )
    elif spec.type == "integer":
        digits = pc.match_substring_regex(values, r"^[+-]?\d{1,18}$")
        safe = pc.if_else(digits, values, pa.scalar(None, pa.string()))
        typed = pc.cast(safe, pa.int64())
    elif spec.type == "date":
        typed = pc.cast(_parse_times(values, formats), pa.date32())
    elif spec.type == "datetime":
        typed = _parse_times(values, formats)
    elif spec.type == "time":
        stamps = _parse_times(values, formats)
        seconds = pc.add(
            pc.multiply(pc.hour(stamps), 3600),
            pc.add(pc.multiply(pc.minute(stamps), 60), pc.second(stamps)),
        )
        typed = pc.cast(pc.cast(seconds, pa.int32()), pa.time32("s"))
    else:  # pragma: no cover - the model's Literal type makes this unreachable
        raise ValueError(spec.type)
    tally.add(spec.name, f"type:{spec.type}", pc.and_(present, pc.is_null(typed)), rows)
    return typed
