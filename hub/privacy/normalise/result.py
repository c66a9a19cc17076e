"""The result every normaliser returns: canonical values plus a fixed reason code per row.

Reasons are codes from a closed set (``missing``, ``check_digit``, ...), never text derived from a
row value, so a ``Normalised`` can be summarised into quality reports, logs and error messages
without quoting personal data: ``counts()`` gives numbers, ``invalid_rows()`` gives row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

MISSING = "missing"


class NormalisedValue(NamedTuple):
    """One normalised scalar: the canonical value, or ``None`` and the reason code."""

    value: str | None
    reason: str | None


@dataclass(frozen=True)
class Normalised:
    """Canonical values and reason codes, aligned row by row with the input array.

    ``values`` holds the canonical string where the row is valid and null elsewhere; ``reasons`` is
    null where the row is valid, ``"missing"`` where the input was null, empty or whitespace (or a
    not-known code), and otherwise a fixed code naming the rule the row broke.

    >>> result = Normalised(
    ...     values=pa.array(["A", None, None, None], pa.string()),
    ...     reasons=pa.array([None, "missing", "format", "format"], pa.string()),
    ... )
    >>> result.counts()
    {'format': 2, 'missing': 1}
    >>> result.invalid_rows()
    {'format': [3, 4]}
    >>> result.invalid_rows(limit=1, offset=101)
    {'format': [103]}
    """

    values: pa.Array
    reasons: pa.Array

    def __post_init__(self) -> None:
        if len(self.values) != len(self.reasons):
            raise ValueError("values and reasons must have the same length")
        if self.values.type != pa.string() or self.reasons.type != pa.string():
            raise TypeError("values and reasons must be pyarrow string arrays")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def valid(self) -> pa.Array:
        """Boolean mask, true where the row normalised to a canonical value."""
        return pc.is_null(self.reasons)

    def counts(self) -> dict[str, int]:
        """Number of rows per reason code (``missing`` included), sorted by code."""
        if self.reasons.null_count == len(self.reasons):
            return {}
        tallies = pc.value_counts(self.reasons.drop_null())
        codes = tallies.field("values").to_pylist()
        numbers = tallies.field("counts").to_pylist()
        return {str(code): int(n) for code, n in sorted(zip(codes, numbers, strict=True))}

    def invalid_rows(self, limit: int = 20, offset: int = 1) -> dict[str, list[int]]:
        """First ``limit`` row numbers per reason code, ``missing`` excluded.

        Row numbers are array positions plus ``offset``: the default gives 1-based numbers; a caller
        that normalises a later chunk, or counts a header line, passes its own first row number.
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        rows: dict[str, list[int]] = {}
        for code in self.counts():
            if code == MISSING:
                continue
            positions = pc.indices_nonzero(pc.fill_null(pc.equal(self.reasons, code), False))
            rows[code] = [int(i) + offset for i in positions.slice(0, limit).to_pylist()]
        return rows
