"""A batch's column as its distinct values and, per row, which one (private to staging).

Every step of staging is element-wise: a value's cast, canonical form, reason, token and
generalisation never depend on another row. So each step runs once per distinct value of a batch
and the results are expanded to rows by position (``pc.take``). Names, dates of birth, postcodes,
codes, dates and flags repeat a great deal within a batch (65,000 rows of the synthetic police
feed hold about 4,000 surnames, 20,000 dates of birth and two values of each flag), so this does
a fraction of the work, and gives the same values as running every step on every row.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

# A column whose batch has more distinct values than this share of its rows is computed per row:
# encoding it would save less than it costs.
DENSE = 0.9


class Column:
    """One field of a batch as its distinct values and, per row, the position of its value.

    Every step of staging is element-wise (a value's result never depends on another row), so it
    runs once per distinct value (``map``) and ``rows`` expands the result to one per row: the
    same values as running it on every row, at a fraction of the work for the names, dates of
    birth, postcodes, codes and flags that repeat within a batch. ``index`` is None when
    ``values`` are the rows themselves.
    """

    __slots__ = ("_rows", "index", "values")

    def __init__(self, values: pa.Array, index: pa.Array | None) -> None:
        self.values = values
        self.index = index
        self._rows: pa.Array | None = values if index is None else None

    @classmethod
    def of(cls, array: pa.Array) -> Column:
        """The column of a dictionary-encoded array (null rows get a null value of their own),
        or of a plain one as its rows; a dictionary of nearly as many values as rows is
        decoded, since expanding every result back would cost more than it saves."""
        if not pa.types.is_dictionary(array.type):
            return cls(array, None)
        dictionary, index = array.dictionary, array.indices
        if len(dictionary) > DENSE * len(array):
            return cls(array.dictionary_decode(), None)
        if index.null_count:
            dictionary = pa.concat_arrays([dictionary, pa.nulls(1, dictionary.type)])
            index = pc.fill_null(index, len(dictionary) - 1)
        return cls(dictionary, index)

    def map(self, function: Callable[[pa.Array], pa.Array]) -> Column:
        return Column(function(self.values), self.index)

    def expand(self, values: pa.Array) -> pa.Array:
        """``values`` (one per distinct value) as one per row."""
        return values if self.index is None else pc.take(values, self.index)

    def rows(self) -> pa.Array:
        if self._rows is None:
            self._rows = self.expand(self.values)
        return self._rows
