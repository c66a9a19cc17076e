"""The checks the hub computes itself and reports as GX expectation results.

- Uniqueness (``expect_column_values_to_be_unique``): GX compares rows within one batch only, so a
  duplicate in two batches would pass. The hub collects the column (and the record number) over
  the whole extract and counts, as GX does, every non-null row whose value occurs more than once.
  Memory: the column being checked, not the extract (about 40 bytes a row for a token).
- Token checks (``table: tokens``): required and unique identifiers are checked on their keyed
  tokens in ``linkage/.../tokens.parquet``. Tokens are not identifying without the hub's key, but
  they are linkage-zone data: GX never receives them, so no GX result, log or Data Docs page can
  ever hold one. Both checks are counts the hub makes in Arrow, batch by batch.

Each check reports into a ``Tally``, the same structure batch results from GX are added into.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from hub.quality.engine import FIRST_ROWS


@dataclass
class Tally:
    """Counts and first row numbers of one expectation, summed over batches."""

    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int | None = None  # None: not a measure of this expectation
    first_rows: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # exception class names, never messages
    batches: int = 0

    def add_rows(self, rows: list[int]) -> None:
        room = FIRST_ROWS - len(self.first_rows)
        if room > 0:
            self.first_rows.extend(int(r) for r in rows[:room])

    def add_missing(self, count: int) -> None:
        self.missing_count = (self.missing_count or 0) + count


class NotNull:
    """Rows where a column is null, batch by batch."""

    def __init__(self) -> None:
        self.tally = Tally()

    def add(self, values: pa.ChunkedArray | pa.Array, records: pa.ChunkedArray | pa.Array) -> None:
        self.tally.batches += 1
        self.tally.element_count += len(values)
        nulls = values.null_count
        if nulls:
            self.tally.unexpected_count += nulls
            mask = pc.is_null(values)
            self.tally.add_rows(pc.filter(records, mask).slice(0, FIRST_ROWS).to_pylist())


class Unique:
    """Rows whose non-null value occurs more than once in the whole extract."""

    def __init__(self) -> None:
        self.tally = Tally(missing_count=0)
        self._values: list[pa.Array] = []
        self._records: list[pa.Array] = []

    def add(self, values: pa.ChunkedArray | pa.Array, records: pa.ChunkedArray | pa.Array) -> None:
        self.tally.batches += 1
        self.tally.element_count += len(values)
        self.tally.add_missing(values.null_count)
        present = pc.is_valid(values)
        self._values.append(pc.filter(values, present))
        self._records.append(pc.filter(records, present))

    def finish(self) -> Tally:
        if not self._values:
            return self.tally
        table = pa.table(
            {
                "v": pa.chunked_array(self._values),
                "record": pa.chunked_array(self._records),
            }
        )
        self._values, self._records = [], []
        counts = table.group_by("v").aggregate([("record", "count")])
        repeated = counts.filter(pc.greater(counts["record_count"], 1))["v"]
        if len(repeated) == 0:
            return self.tally
        mask = pc.is_in(table["v"], value_set=repeated.combine_chunks())
        self.tally.unexpected_count = int(pc.sum(mask).as_py() or 0)
        rows = pc.filter(table["record"], mask)
        first = pc.select_k_unstable(rows, FIRST_ROWS, sort_keys=[("dummy", "ascending")])
        self.tally.add_rows(sorted(int(r) for r in pc.take(rows, first).to_pylist()))
        return self.tally
