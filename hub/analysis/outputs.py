"""Tables of counts an analyst may take away: a query's rows counted and controlled.

An aggregate query (``mode="counts"``, the default and the only mode of an aggregate-only
project) is an ordinary ``SELECT`` whose rows are the things to count: events, people, whatever
the analyst selects. The hub counts the rows for each combination of the values in its columns
and controls the counts as one output (``hub.privacy.disclosure``):

- the last two columns are the table's rows and columns (a one-column query is a list: one
  count per value) and are controlled together by ``control_crosstab``: counts of the threshold
  or fewer suppressed, the rest rounded, and secondary suppression so that no hidden count can be
  recovered by subtracting within a row or column of the output;
- any columns before those split the output into separate two-way tables, one per combination
  of their values, each controlled as a whole; no total across them is given, so none can be
  subtracted;
- a row or column (or a whole table) in which every count is hidden is left out, so an output
  does not show which rare combinations exist: a combination that is not shown had a few events
  or none.

Values are shown as text (a missing one as ``(not recorded)``), counts as whole numbers, and a
suppressed count as null (``[c]`` in CSV and on the pages, the ONS convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.disclosure import ControlledTable, DisclosureRule, control_crosstab

COUNT = "count"
NOT_RECORDED = "(not recorded)"
SUPPRESSED = "[c]"
_ONLY = "__one_column__"  # the column key of a one-way list


@dataclass(frozen=True)
class Layer:
    """One two-way table of an output: the values of the splitting columns, and the table."""

    key: tuple[str, ...]
    table: ControlledTable


@dataclass(frozen=True)
class CountOutput:
    """A controlled table of counts: ``dimensions`` are the query's columns, in order."""

    dimensions: tuple[str, ...]
    layers: tuple[Layer, ...]
    rule: DisclosureRule
    raw_cells: int  # combinations counted before control (kept for the audit log, not shown)

    @property
    def one_way(self) -> bool:
        return len(self.dimensions) == 1

    def long(self) -> pa.Table:
        """Every published cell: one row per combination, the dimensions as text then
        ``count`` (null where suppressed)."""
        columns: dict[str, list[object]] = {d: [] for d in self.dimensions}
        counts: list[int | None] = []
        split = self.dimensions[:-2] if not self.one_way else ()
        for layer in self.layers:
            cells = layer.table.cells
            n = cells.num_rows
            for name, value in zip(split, layer.key, strict=True):
                columns[name].extend([value] * n)
            names = cells.column_names
            if self.one_way:
                columns[self.dimensions[0]].extend(cells.column(names[0]).to_pylist())
            else:
                columns[self.dimensions[-2]].extend(cells.column(names[0]).to_pylist())
                columns[self.dimensions[-1]].extend(cells.column(names[1]).to_pylist())
            counts.extend(cells.column(COUNT).to_pylist())
        table = {d: pa.array(v, pa.string()) for d, v in columns.items()}
        table[COUNT] = pa.array(counts, pa.int64())
        return pa.table(table)

    @property
    def suppressed(self) -> int:
        return sum(layer.table.cells.column(COUNT).null_count for layer in self.layers)


def as_text(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any column as text, a missing value as ``NOT_RECORDED``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = values.cast(pa.string())
    elif pa.types.is_nested(values.type):
        text = pa.array(
            [None if v is None else ", ".join(str(x) for x in v) for v in values.to_pylist()],
            pa.string(),
        )
    else:
        text = pc.cast(values, pa.string())
    return pc.fill_null(text, NOT_RECORDED)


def control_counts(counted: pa.Table, count: str, rule: DisclosureRule) -> CountOutput:
    """``counted`` (the query's columns, then ``count``: how many rows had those values) as a
    controlled output; see the module docstring."""
    dimensions = tuple(n for n in counted.column_names if n != count)
    if not dimensions:
        raise ValueError("a table of counts needs at least one column to count by")
    text = pa.table({f"d{i}": as_text(counted.column(d)) for i, d in enumerate(dimensions)})
    values = pc.cast(counted.column(count), pa.int64())
    # the same combination can appear twice once values are text (1 and '1'): add them up
    grouped = (
        text.append_column(COUNT, values)
        .group_by(text.column_names, use_threads=False)
        .aggregate([(COUNT, "sum")])
    )
    grouped = grouped.rename_columns([*text.column_names, COUNT])
    if len(dimensions) == 1:
        grouped = grouped.append_column(_ONLY, pa.array([COUNT] * grouped.num_rows, pa.string()))
        row, column, split = "d0", _ONLY, []
    else:
        n = len(dimensions)
        row, column, split = f"d{n - 2}", f"d{n - 1}", [f"d{i}" for i in range(n - 2)]
    layers = []
    for key, cells in _split(grouped, split):
        controlled = control_crosstab(cells.select([row, column, COUNT]), row, column, COUNT, rule)
        shown = _without_hidden_lines(controlled, row, column)
        if shown is not None:
            layers.append(Layer(key, shown))
    return CountOutput(dimensions, tuple(layers), rule, grouped.num_rows)


def _split(table: pa.Table, by: list[str]) -> list[tuple[tuple[str, ...], pa.Table]]:
    """``table`` in parts, one per combination of the ``by`` columns, in sorted order."""
    if not by:
        return [((), table)]
    keys = table.select(by).group_by(by, use_threads=False).aggregate([])
    keys = keys.sort_by([(b, "ascending") for b in by])
    parts = []
    for values in keys.to_pylist():
        mask = None
        for b in by:
            equal = pc.equal(table.column(b), values[b])
            mask = equal if mask is None else pc.and_(mask, equal)
        parts.append((tuple(str(values[b]) for b in by), table.filter(mask)))
    return parts


def _without_hidden_lines(table: ControlledTable, row: str, column: str) -> ControlledTable | None:
    """``table`` without the rows and columns whose every cell is hidden; None when nothing is
    left. Totals are kept as they were: a hidden line adds nothing to a published total."""
    cells = table.cells
    published = pc.is_valid(cells.column(COUNT)).to_numpy(zero_copy_only=False)
    if not published.any():
        return None
    rows = cells.column(row).to_numpy(zero_copy_only=False)
    columns = cells.column(column).to_numpy(zero_copy_only=False)
    keep_rows = np.unique(rows[published])
    keep_columns = np.unique(columns[published])
    kept = pc.and_(
        pc.is_in(cells.column(row), pa.array(keep_rows, pa.string())),
        pc.is_in(cells.column(column), pa.array(keep_columns, pa.string())),
    )
    row_totals = table.row_totals
    column_totals = table.column_totals
    if row_totals is not None:
        row_totals = row_totals.filter(
            pc.is_in(row_totals.column(row), pa.array(keep_rows, pa.string()))
        )
    if column_totals is not None:
        column_totals = column_totals.filter(
            pc.is_in(column_totals.column(column), pa.array(keep_columns, pa.string()))
        )
    return ControlledTable(
        cells.filter(kept),
        row_totals,
        column_totals,
        table.grand_total,
        table.totals,
        table.rule,
    )
