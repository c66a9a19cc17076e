"""An analyst's table of counts (``hub.analysis.outputs.control_counts``) is controlled as
promised, whatever the query returns: no released count is in 1..7, every count is rounded, each
two-way part is exactly the ``control_crosstab`` of its counts (whose secondary suppression
``test_secondary_suppression`` proves), and a row or column is left out only when every count in
it is hidden."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.analysis.outputs import COUNT, NOT_RECORDED, control_counts
from hub.privacy.disclosure import DisclosureRule, control_crosstab

rules = st.builds(
    DisclosureRule, suppress_at_or_below=st.sampled_from([7, 10]), round_to=st.sampled_from([5, 10])
)


@st.composite
def query_rows(draw: st.DrawFn) -> tuple[list[str], list[tuple[str | None, ...]]]:
    """The rows a query returned: 1 to 4 columns of a few values each (some missing)."""
    width = draw(st.integers(1, 4))
    names = [f"c{i}" for i in range(width)]
    values = [
        draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True))
        for _ in names
    ]
    rows = draw(
        st.lists(
            st.tuples(*(st.one_of(st.none(), st.sampled_from(v)) for v in values)),
            max_size=400,
        )
    )
    return names, rows


def _counted(names: list[str], rows: list[tuple[str | None, ...]]) -> pa.Table:
    """What the service's GROUP BY ALL gives: each combination and how many rows had it."""
    counts = Counter(rows)
    columns = {n: [k[i] for k in counts] for i, n in enumerate(names)}
    return pa.table({**columns, COUNT: pa.array(list(counts.values()), pa.int64())})


@settings(max_examples=300, deadline=None)
@given(query_rows(), rules)
def test_no_released_count_is_small_and_every_count_is_rounded(
    case: tuple[list[str], list[tuple[str | None, ...]]], rule: DisclosureRule
) -> None:
    names, rows = case
    if not rows:
        return
    output = control_counts(_counted(names, rows), COUNT, rule)
    published = [c for c in output.long().column(COUNT).to_pylist() if c is not None]
    assert all(c > rule.suppress_at_or_below for c in published)
    assert all(c % rule.round_to == 0 for c in published)
    for layer in output.layers:
        for margin in (layer.table.row_totals, layer.table.column_totals):
            assert margin is not None
            shown = [c for c in margin.column(COUNT).to_pylist() if c is not None]
            assert all(c > rule.suppress_at_or_below for c in shown)


@settings(max_examples=300, deadline=None)
@given(query_rows(), rules)
def test_each_part_is_its_crosstab_without_wholly_hidden_lines(
    case: tuple[list[str], list[tuple[str | None, ...]]], rule: DisclosureRule
) -> None:
    names, rows = case
    if not rows:
        return
    output = control_counts(_counted(names, rows), COUNT, rule)
    text = [tuple(NOT_RECORDED if v is None else v for v in row) for row in rows]
    split = len(names) - 2 if len(names) > 1 else 0
    parts: dict[tuple[str, ...], Counter[tuple[str, str]]] = {}
    for row in text:
        cell = (row[-2], row[-1]) if len(names) > 1 else (row[0], COUNT)
        parts.setdefault(row[:split], Counter())[cell] += 1
    shown = {layer.key: layer.table for layer in output.layers}
    for key, cells in parts.items():
        table = pa.table(
            {
                "r": [k[0] for k in cells],
                "c": [k[1] for k in cells],
                COUNT: pa.array(list(cells.values()), pa.int64()),
            }
        )
        expected = control_crosstab(table, "r", "c", COUNT, rule)
        grid = {
            (r, c): n
            for r, c, n in zip(
                *(expected.cells.column(x).to_pylist() for x in ("r", "c", COUNT)), strict=True
            )
        }
        if all(n is None for n in grid.values()):
            assert key not in shown  # a part with every count hidden is left out
            continue
        got = shown[key].cells
        names_got = got.column_names
        got_grid = {
            (r, c): n
            for r, c, n in zip(*(got.column(x).to_pylist() for x in names_got), strict=True)
        }
        kept_rows = {r for (r, _), n in grid.items() if n is not None}
        kept_columns = {c for (_, c), n in grid.items() if n is not None}
        assert got_grid == {
            (r, c): n for (r, c), n in grid.items() if r in kept_rows and c in kept_columns
        }
        assert shown[key].grand_total == expected.grand_total
    assert set(shown) <= set(parts)
