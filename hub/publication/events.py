"""Mapping each agreement's staged rows to the release's ``event`` table."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import Agreement
from hub.privacy.generalise import truncate_time

FLAGS = ("knife", "firearm", "domestic_abuse", "alcohol", "youth", "night_time_economy")

EVENT_SCHEMA = pa.schema(
    [
        ("person_key", pa.string()),
        ("source", pa.string()),
        ("role", pa.string()),
        ("event_type", pa.string()),
        ("ho_offence_code", pa.string()),
        ("event_week", pa.date32()),
        ("event_month", pa.date32()),
        ("event_hour", pa.int8()),
        ("area_code", pa.string()),
        ("age_band", pa.string()),
        ("sex", pa.string()),
        ("home_area", pa.string()),
        *[(f"flag_{name}", pa.bool_()) for name in FLAGS],
    ]
)


def _column(table: pa.Table, name: str | None, type_: pa.DataType) -> pa.Array:
    if name is None:
        return pa.nulls(table.num_rows, type_)
    return pc.cast(table.column(name).combine_chunks(), type_)


def _constant_or_field(table: pa.Table, constant: str | None, field: str | None) -> pa.Array:
    if field is not None:
        return pc.utf8_lower(_column(table, field, pa.string()))
    return pa.array([constant] * table.num_rows, pa.string())


def staged_events(agreement: Agreement, table: pa.Table, person_keys: pa.Array) -> pa.Table:
    """The events of one staged extract (its ``data.parquet``); ``person_keys`` is aligned with
    its records."""
    spec = agreement.publication
    dates = table.column(spec.event_date_field).combine_chunks()
    columns: dict[str, pa.Array] = {
        "person_key": person_keys,
        "source": pa.array([agreement.id] * table.num_rows, pa.string()),
        "role": _constant_or_field(table, spec.role, spec.role_field),
        "event_type": _constant_or_field(table, spec.event_type, spec.event_type_field),
        "ho_offence_code": _column(table, spec.offence_code_field, pa.string()),
        "event_week": truncate_time(dates, "week"),
        "event_month": truncate_time(dates, "month"),
        "event_hour": (
            truncate_time(table.column(spec.event_hour_field).combine_chunks(), "hour")
            if spec.event_hour_field
            else pa.nulls(table.num_rows, pa.int8())
        ),
        "area_code": _column(table, spec.area_field, pa.string()),
        "age_band": _column(table, spec.age_band_field, pa.string()),
        "sex": _column(table, spec.sex_field, pa.string()),
        "home_area": _column(table, spec.home_area_field, pa.string()),
    }
    for name in FLAGS:
        flag = spec.flags.get(name)
        if flag is None:
            columns[f"flag_{name}"] = pa.nulls(table.num_rows, pa.bool_())
        elif flag.equals is None:
            columns[f"flag_{name}"] = _column(table, flag.field, pa.bool_())
        else:
            columns[f"flag_{name}"] = pc.equal(_column(table, flag.field, pa.string()), flag.equals)
    return pa.table(columns, schema=EVENT_SCHEMA)
