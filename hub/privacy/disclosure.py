"""Statistical disclosure control for every analyst-facing aggregate.

The rule (``../shared/design.md``, current trusted-research-environment practice): a count of
``suppress_at_or_below`` (7) or fewer is suppressed, every other count is rounded to the nearest
multiple of ``round_to`` (5, halves up), and totals are recomputed from the published cells, never
taken from the raw counts (a raw total minus the published cells would give a suppressed cell
back). Agreements may set stricter values, never looser (``hub.agreements.model.Disclosure``);
an output that draws on several agreements uses the strictest of their rules.

Suppressed cells are null, so a reader cannot mistake them for zero. A count of zero is a count
like any other: it is at or below the threshold and so suppressed too (whether nobody or a few
people had an event is itself disclosive for a small area).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import HUB_ROUND_TO, HUB_SUPPRESS_AT_OR_BELOW, Disclosure


@dataclass(frozen=True)
class DisclosureRule:
    suppress_at_or_below: int = HUB_SUPPRESS_AT_OR_BELOW
    round_to: int = HUB_ROUND_TO

    def __post_init__(self) -> None:
        if self.suppress_at_or_below < HUB_SUPPRESS_AT_OR_BELOW or self.round_to < HUB_ROUND_TO:
            raise ValueError(
                f"disclosure control may be stricter than suppress <= {HUB_SUPPRESS_AT_OR_BELOW},"
                f" round to {HUB_ROUND_TO}, never looser"
            )

    def as_dict(self) -> dict[str, int]:
        return {"suppress_at_or_below": self.suppress_at_or_below, "round_to": self.round_to}


def strictest(rules: Iterable[Disclosure | DisclosureRule]) -> DisclosureRule:
    """The rule that satisfies every one given (the hub's default when none is)."""
    chosen = list(rules)
    return DisclosureRule(
        max([HUB_SUPPRESS_AT_OR_BELOW, *(r.suppress_at_or_below for r in chosen)]),
        max([HUB_ROUND_TO, *(r.round_to for r in chosen)]),
    )


def control(counts: pa.Array | pa.ChunkedArray, rule: DisclosureRule) -> pa.Array:
    """Counts as published: null (suppressed) at or below the threshold, else rounded to the
    nearest multiple of ``round_to`` (halves up). A null count stays null."""
    values = pc.cast(counts, pa.int64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    base = rule.round_to
    # (v + base // 2) // base * base: the nearest multiple, an exact half (even bases) up
    rounded = pc.multiply(pc.divide(pc.add(values, base // 2), base), base)
    kept = pc.greater(values, rule.suppress_at_or_below)
    return pc.if_else(kept, rounded, pa.scalar(None, pa.int64()))


def total(published: pa.Array | pa.ChunkedArray) -> int:
    """A total recomputed from published cells (suppressed cells add nothing)."""
    return int(pc.sum(published).as_py() or 0)


def control_table(table: pa.Table, count_columns: Iterable[str], rule: DisclosureRule) -> pa.Table:
    """``table`` with each of ``count_columns`` controlled."""
    for name in count_columns:
        index = table.column_names.index(name)
        table = table.set_column(
            index, pa.field(name, pa.int64()), control(table.column(name), rule)
        )
    return table
