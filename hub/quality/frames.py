"""Arrow batches of a staged extract as the pandas frames GX validates, cheaply.

GX's pandas engine is only vectorised for some dtypes: ``expect_column_values_to_be_between`` runs
a Python function per value unless the column is numpy ``int64``/``float64`` or
``datetime64[ns]`` (1.4 s instead of 0.1 s a million rows). So each batch becomes a frame of only
the columns the suite names, indexed by the record number, with:

- dates and timestamps as ``datetime64[ns]`` when every temporal value of the batch fits its range
  (years 1678-2261), and the suite's date parameters as ``pandas.Timestamp``; otherwise (a typo
  such as year 0202) every temporal column of that batch stays Arrow-backed and exact (slower);
- integers as numpy ``int64``, or ``float64`` when nulls are present (exact below 2**53, else
  Arrow-backed); other types (strings, booleans, times) Arrow-backed (``pd.ArrowDtype``: no copy,
  and GX's string, set and null checks are vectorised on them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.compute as pc

from hub.quality.rules import ARRIVAL_DATE, DAY_AFTER_ARRIVAL, RECORD

_EXACT_INT = 2**53


def _temporal(kind: pa.DataType) -> bool:
    return bool(pa.types.is_date(kind) or pa.types.is_timestamp(kind))


def _as_ns(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as timestamps in nanoseconds, or None when a value is out of their range."""
    kind = column.type
    target = pa.timestamp("ns", tz=kind.tz) if pa.types.is_timestamp(kind) else pa.timestamp("ns")
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, OverflowError):  # the message quotes the value: never kept
        return None


def _arrow_backed(column: pa.ChunkedArray) -> Any:
    return pd.arrays.ArrowExtensionArray(column)


def _integer(column: pa.ChunkedArray) -> Any:
    """numpy int64; float64 when nulls are present and every value is exact as a float; else
    Arrow-backed."""
    if column.null_count == 0:
        return column.to_numpy()
    low, high = (v.as_py() or 0 for v in pc.min_max(column).values())
    if max(abs(low), abs(high)) < _EXACT_INT:
        return pc.cast(column, pa.float64()).to_numpy()
    return _arrow_backed(column)


@dataclass(frozen=True)
class Frame:
    """One batch as GX sees it, and the suite parameters matching its temporal dtypes."""

    frame: pd.DataFrame
    parameters: dict[str, Any]


def parameters_for(arrival: date, *, exact: bool) -> dict[str, Any]:
    """The suite parameters for a batch: plain dates for Arrow-backed (exact) temporal columns,
    ``pandas.Timestamp`` for ``datetime64[ns]`` ones."""
    day_after = datetime.combine(date.fromordinal(arrival.toordinal() + 1), time())
    if exact:
        return {ARRIVAL_DATE: arrival, DAY_AFTER_ARRIVAL: day_after}
    return {ARRIVAL_DATE: pd.Timestamp(arrival), DAY_AFTER_ARRIVAL: pd.Timestamp(day_after)}


def to_frame(table: pa.Table, columns: Iterable[str], arrival: date) -> Frame:
    """The frame GX validates: ``columns`` (those present) indexed by the record number."""
    names = [c for c in dict.fromkeys(columns) if c in table.column_names and c != RECORD]
    converted: dict[str, pa.ChunkedArray] = {}
    exact = False
    for name in names:
        column = table.column(name)
        if _temporal(column.type):
            ns = _as_ns(column)
            exact = exact or ns is None
            converted[name] = column if ns is None else ns
    data: dict[str, Any] = {}
    for name in names:
        column = table.column(name)
        kind = column.type
        if _temporal(kind):
            data[name] = _arrow_backed(column) if exact else converted[name].to_pandas().array
        elif pa.types.is_integer(kind):
            data[name] = _integer(column)
        elif pa.types.is_floating(kind):
            data[name] = column.to_numpy()
        else:
            data[name] = _arrow_backed(column)
    index = pd.Index(table.column(RECORD).to_numpy(), name=RECORD)
    return Frame(pd.DataFrame(data, index=index), parameters_for(arrival, exact=exact))
