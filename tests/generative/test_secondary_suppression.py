"""Two-way tables under disclosure control (``control_crosstab``): nothing at or below the
threshold is published, and a reader of one output cannot get a suppressed cell back by
differencing.

The reader ("attacker") modelled here knows the rule and holds one output with its real
(``totals="controlled"``) totals. A published value ``v`` tells them the raw count lies in
``[v - base // 2, v - base // 2 + base - 1]`` (rounding to the nearest multiple, halves up) and
above the threshold (it was not suppressed). A suppressed entry tells them only that it is at
least 0: primary and secondary suppressions look alike, so it has no upper bound of its own.

The property tested for each line (a row or column with its total; the row of column totals and
the column of row totals, each ending in the grand total, are lines too):

- a line never has exactly one suppressed entry, counting its total as an entry: one unknown in
  a sum is the sum minus the rest;
- when its total is published, subtracting the line's published cells from it bounds the sum of
  the line's suppressed cells; with two or more of them, each one alone is bounded below by 0
  (the others may hold it all) and above by that bound on the sum. The test asserts that every
  such interval contains 0 and reaches above the threshold, or is at least the threshold wide.
  Either way it holds more than ``threshold`` values, so it cannot lie within 1..threshold: the
  reader cannot tell a suppressed zero from a suppressed small count, nor a small count from
  one above the threshold.

A stronger reader combines lines: ``test_combining_lines_never_narrows_a_cell_to_a_small_count``
tightens every entry's interval from every line in turn until nothing changes, and asserts that
no suppressed entry ends up within 1..threshold (the module docstring says what is and is not
promised against such a reader).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from random import Random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.privacy.disclosure import (
    ControlledTable,
    DisclosureRule,
    Totals,
    control,
    control_crosstab,
)

rules = st.builds(DisclosureRule, st.integers(7, 60), st.integers(5, 20))


@dataclass(frozen=True)
class Case:
    table: pa.Table  # long format: r (string key), c (integer key), n (raw count)
    raw: dict[tuple[str, int], int]  # every combination of the keys present, absent ones zero
    rows: list[str]
    columns: list[int]


@st.composite
def crosstabs(draw: st.DrawFn) -> Case:
    n_rows, n_cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    size = st.one_of(st.integers(0, 12), st.integers(0, 80), st.integers(0, 3000))
    entries = [
        (f"r{i}", j, draw(size))
        for i in range(n_rows)
        for j in range(n_cols)
        if draw(st.integers(0, 4))  # one cell in five is absent (counts zero)
    ] or [("r0", 0, draw(size))]
    entries = draw(st.permutations(entries))
    table = pa.table(
        {
            "r": pa.array([e[0] for e in entries], pa.string()),
            "c": pa.array([e[1] for e in entries], pa.int64()),
            "n": pa.array([e[2] for e in entries], pa.int64()),
        }
    )
    rows, columns = sorted({e[0] for e in entries}), sorted({e[1] for e in entries})
    raw = {(r, c): 0 for r in rows for c in columns} | {(e[0], e[1]): e[2] for e in entries}
    return Case(table, raw, rows, columns)


def crosstab(case: Case, rule: DisclosureRule, totals: Totals = "controlled") -> ControlledTable:
    return control_crosstab(case.table, "r", "c", "n", rule, totals=totals)


Grid = list[list[int | None]]


def bordered(out: ControlledTable) -> Grid:
    """The published table with its totals around it: a last column of row totals, a last row of
    column totals ending in the grand total. None is suppressed."""
    assert out.row_totals is not None and out.column_totals is not None
    n_cols = out.column_totals.num_rows
    values = out.cells.column("n").to_pylist()
    grid = [
        [*values[i * n_cols : (i + 1) * n_cols], total]
        for i, total in enumerate(out.row_totals.column("n").to_pylist())
    ]
    return [*grid, [*out.column_totals.column("n").to_pylist(), out.grand_total]]


def bordered_raw(case: Case) -> list[list[int]]:
    grid = [[case.raw[r, c] for c in case.columns] for r in case.rows]
    grid = [[*line, sum(line)] for line in grid]
    return [*grid, [sum(column) for column in zip(*grid, strict=True)]]


def lines(grid: list[list[int]] | Grid) -> list[list[tuple[int, int]]]:
    """Each line's positions in a bordered grid, its total last."""
    n_rows, n_cols = len(grid), len(grid[0])
    return [[(i, j) for j in range(n_cols)] for i in range(n_rows)] + [
        [(i, j) for i in range(n_rows)] for j in range(n_cols)
    ]


def raw_bounds(shown: int, rule: DisclosureRule) -> tuple[int, int]:
    """What a published value says about the raw count."""
    low = shown - rule.round_to // 2
    return max(low, rule.suppress_at_or_below + 1), low + rule.round_to - 1


@settings(max_examples=300, deadline=None)
@given(crosstabs(), rules)
def test_nothing_at_or_below_the_threshold_is_published(case: Case, rule: DisclosureRule) -> None:
    totals: Totals
    for totals in ("published", "controlled"):
        out = crosstab(case, rule, totals)
        assert all(
            v is None or v > rule.suppress_at_or_below for line in bordered(out) for v in line
        )
        keys = list(
            zip(out.cells.column("r").to_pylist(), out.cells.column("c").to_pylist(), strict=True)
        )
        assert keys == [(r, c) for r in case.rows for c in case.columns]  # absent ones too
        for (r, c), shown in zip(keys, out.cells.column("n").to_pylist(), strict=True):
            if case.raw[r, c] <= rule.suppress_at_or_below:
                assert shown is None


@settings(max_examples=300, deadline=None)
@given(crosstabs(), rules)
def test_no_suppressed_cell_can_be_recovered_by_differencing_a_line(
    case: Case, rule: DisclosureRule
) -> None:
    grid, truth = bordered(crosstab(case, rule)), bordered_raw(case)
    threshold = rule.suppress_at_or_below
    for line in lines(grid):
        *cells, total = line
        hidden = [p for p in line if grid[p[0]][p[1]] is None]
        assert len(hidden) != 1
        shown_total = grid[total[0]][total[1]]
        if shown_total is None or not hidden:
            continue
        unknown = [p for p in cells if grid[p[0]][p[1]] is None]
        assert len(unknown) >= 2
        published = [raw_bounds(v, rule) for p in cells if (v := grid[p[0]][p[1]]) is not None]
        total_low, total_high = raw_bounds(shown_total, rule)
        sum_low = max(0, total_low - sum(high for _, high in published))
        sum_high = total_high - sum(low for low, _ in published)
        assert sum_low <= sum(truth[i][j] for i, j in unknown) <= sum_high  # the bounds are sound
        for cell in unknown:
            # the other unknowns lie in [0, no limit): they may hold all of the sum or none of it
            low, high = 0, sum_high
            assert low <= truth[cell[0]][cell[1]] <= high
            assert (low == 0 and high > threshold) or high - low >= threshold


@settings(max_examples=200, deadline=None)
@given(crosstabs(), rules)
def test_combining_lines_never_narrows_a_cell_to_a_small_count(
    case: Case, rule: DisclosureRule
) -> None:
    grid, truth = bordered(crosstab(case, rule)), bordered_raw(case)
    known: dict[tuple[int, int], tuple[float, float]] = {
        (i, j): (0, math.inf) if v is None else raw_bounds(v, rule)
        for i, line in enumerate(grid)
        for j, v in enumerate(line)
    }
    changed, rounds = True, 0
    while changed and rounds < 500:
        changed, rounds = False, rounds + 1
        for line in lines(grid):
            *cells, total = line
            for p in line:
                others = [q for q in cells if q != p]
                if p == total:  # the total is the sum of the cells
                    low = sum(known[q][0] for q in others)
                    high = sum(known[q][1] for q in others)
                else:  # a cell is the total minus the other cells
                    low = known[total][0] - sum(known[q][1] for q in others)
                    high = known[total][1] - sum(known[q][0] for q in others)
                tighter = (max(known[p][0], low), min(known[p][1], high))
                if tighter != known[p]:
                    known[p], changed = tighter, True
    for (i, j), (low, high) in known.items():
        assert low <= truth[i][j] <= high
        if grid[i][j] is None:
            assert not (low >= 1 and high <= rule.suppress_at_or_below)


@settings(max_examples=300, deadline=None)
@given(crosstabs(), rules)
def test_published_counts_follow_the_rule_and_totals_add_up(
    case: Case, rule: DisclosureRule
) -> None:
    controlled = crosstab(case, rule, "controlled")
    grid, truth = bordered(controlled), bordered_raw(case)
    single = control(pa.array([v for line in truth for v in line], pa.int64()), rule).to_pylist()
    for shown, raw, alone in zip(
        (v for line in grid for v in line), (v for line in truth for v in line), single, strict=True
    ):
        if shown is not None:
            assert shown % rule.round_to == 0 and abs(shown - raw) <= rule.round_to / 2
            assert shown == alone  # rounded as any count is; suppression only ever adds
    published = crosstab(case, rule, "published")
    assert published.cells == controlled.cells  # the pattern does not depend on the totals
    kept = [v for v in controlled.cells.column("n").to_pylist() if v is not None]
    assert published.grand_total == (sum(kept) if kept else None)
    n_cols = len(case.columns)
    for i, shown_total in enumerate(published.row_totals.column("n").to_pylist()):  # type: ignore[union-attr]
        line = [v for v in grid[i][:n_cols] if v is not None]
        assert shown_total == (sum(line) if line else None)
    for j, shown_total in enumerate(published.column_totals.column("n").to_pylist()):  # type: ignore[union-attr]
        line = [v for v in (grid[i][j] for i in range(len(case.rows))) if v is not None]
        assert shown_total == (sum(line) if line else None)
    bare = control_crosstab(case.table, "r", "c", "n", rule, margins=False)
    assert bare.cells == controlled.cells
    assert (bare.row_totals, bare.column_totals, bare.grand_total) == (None, None, None)


@settings(max_examples=200, deadline=None)
@given(crosstabs(), rules, st.randoms(use_true_random=False))
def test_the_same_input_in_any_order_gives_the_same_output(
    case: Case, rule: DisclosureRule, rng: Random
) -> None:
    order = list(range(case.table.num_rows))
    rng.shuffle(order)
    totals: Totals
    for totals in ("published", "controlled"):
        first = crosstab(case, rule, totals)
        assert first == crosstab(case, rule, totals)
        shuffled = Case(case.table.take(pa.array(order, pa.int64())), case.raw, [], [])
        assert crosstab(shuffled, rule, totals) == first


def test_a_three_by_three_table_worked_by_hand() -> None:
    # a  x=3   y=40  z=52 | 95        Only a.x (3) is small. Row a then has one hidden cell:
    # b  x=25  y=31  z=66 | 122       its smallest shown one, a.y (40), goes too. Column x has
    # c  x=12  y=57  z=90 | 159       one (a.x): c.x (12, shown 10) goes; column y has one
    #    40    128   208  | 375       (a.y): b.y (31, shown 30). Now row b has one (b.y): b.x
    # (25) goes; row c has one (c.x): c.y (57, shown 55). Columns x and y are then wholly hidden
    # (their hidden cells hold 40 and 128), rows a to c each have two.
    table = pa.table(
        {
            "r": ["c", "b", "a", "a", "a", "b", "b", "c", "c"],
            "c": ["z", "x", "x", "y", "z", "y", "z", "x", "y"],
            "n": [90, 25, 3, 40, 52, 31, 66, 12, 57],
        }
    )
    rule = DisclosureRule()
    out = control_crosstab(table, "r", "c", "n", rule, totals="controlled")
    assert out.cells.column("r").to_pylist() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert out.cells.column("c").to_pylist() == ["x", "y", "z"] * 3
    assert out.cells.column("n").to_pylist() == [None, None, 50, None, None, 65, None, None, 90]
    assert out.row_totals is not None and out.column_totals is not None
    assert out.row_totals.to_pydict() == {"r": ["a", "b", "c"], "n": [95, 120, 160]}
    assert out.column_totals.to_pydict() == {"c": ["x", "y", "z"], "n": [40, 130, 210]}
    assert out.grand_total == 375
    default = control_crosstab(table, "r", "c", "n", rule)
    assert default.totals == "published" and default.cells == out.cells
    assert default.row_totals is not None and default.column_totals is not None
    assert default.row_totals.column("n").to_pylist() == [50, 65, 90]
    assert default.column_totals.column("n").to_pylist() == [None, None, 205]
    assert default.grand_total == 205


def test_hidden_zeros_beside_a_shown_total_take_a_shown_cell_with_them() -> None:
    # a: x and y absent (zero), z=20, total 20: the total minus z would show x and y to be at
    # most 4 together, so z goes too (before the total on the tie); then each column has one
    # hidden cell and loses b's; every cell is hidden but all the real totals can be shown.
    table = pa.table({"r": ["a", "b", "b", "b"], "c": ["z", "x", "y", "z"], "n": [20, 30, 40, 50]})
    out = control_crosstab(table, "r", "c", "n", DisclosureRule(), totals="controlled")
    assert out.cells.column("n").to_pylist() == [None] * 6
    assert out.row_totals is not None and out.column_totals is not None
    assert out.row_totals.column("n").to_pylist() == [20, 120]
    assert out.column_totals.column("n").to_pylist() == [30, 40, 70]
    assert out.grand_total == 140
    default = control_crosstab(table, "r", "c", "n", DisclosureRule())
    assert default.row_totals is not None and default.column_totals is not None
    assert default.row_totals.column("n").to_pylist() == [None, None]
    assert default.column_totals.column("n").to_pylist() == [None, None, None]
    assert default.grand_total is None


def test_an_empty_table_and_bad_input() -> None:
    empty = pa.table({"r": pa.array([], pa.string()), "c": pa.array([], pa.int64()), "n": []})
    out = control_crosstab(empty, "r", "c", "n", DisclosureRule())
    assert out.cells.num_rows == 0 and out.grand_total is None
    for table, message in [
        (pa.table({"r": ["a", None], "c": [1, 2], "n": [9, 9]}), "row keys must not be null"),
        (pa.table({"r": ["a", "a"], "c": [1, 1], "n": [9, 9]}), "only once"),
        (pa.table({"r": ["a"], "c": [1], "n": [-1]}), "negative"),
        (pa.table({"r": ["a"], "c": [1], "n": pa.array([None], pa.int64())}), "null"),
        (pa.table({"r": ["a"], "c": [1]}), "no column named n"),
    ]:
        with pytest.raises(ValueError, match=message):
            control_crosstab(table, "r", "c", "n", DisclosureRule())
