"""Disclosure control: nothing at or below the threshold is published, every published count is a
multiple of the rounding base within half a base of the truth, totals come from published cells,
and no rule looser than the hub's default can be made."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.agreements.model import Disclosure
from hub.privacy.disclosure import DisclosureRule, control, control_table, strictest, total

rules = st.builds(DisclosureRule, st.integers(7, 30), st.integers(5, 20))
counts = st.lists(st.one_of(st.none(), st.integers(0, 10_000)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(counts, rules)
def test_published_counts_follow_the_rule(values: list[int | None], rule: DisclosureRule) -> None:
    published = control(pa.array(values, pa.int64()), rule).to_pylist()
    for raw, shown in zip(values, published, strict=True):
        if raw is None or raw <= rule.suppress_at_or_below:
            assert shown is None
            continue
        assert shown is not None and shown % rule.round_to == 0
        assert abs(shown - raw) <= rule.round_to / 2
        assert (raw - shown) * 2 != rule.round_to  # an exact half goes up, never down


@settings(max_examples=200, deadline=None)
@given(counts, rules)
def test_totals_never_reveal_a_suppressed_cell(
    values: list[int | None], rule: DisclosureRule
) -> None:
    published = control(pa.array(values, pa.int64()), rule)
    assert total(published) == sum(v for v in published.to_pylist() if v is not None)
    assert total(published) % rule.round_to == 0


def test_the_hub_default_and_examples() -> None:
    rule = DisclosureRule()
    assert control(pa.array([0, 7, 8, 12, 13, 15, None]), rule).to_pylist() == [
        None, None, 10, 10, 15, 15, None,
    ]  # fmt: skip
    even = DisclosureRule(10, 10)
    assert control(pa.array([10, 11, 14, 15, 16]), even).to_pylist() == [None, 10, 10, 20, 20]


def test_the_strictest_rule_wins_and_looser_rules_are_refused() -> None:
    chosen = strictest([Disclosure(), Disclosure(suppress_at_or_below=10), DisclosureRule(7, 10)])
    assert (chosen.suppress_at_or_below, chosen.round_to) == (10, 10)
    assert strictest([]) == DisclosureRule()
    with pytest.raises(ValueError, match="never looser"):
        DisclosureRule(5, 5)
    with pytest.raises(ValueError, match="never looser"):
        DisclosureRule(7, 1)


def test_a_table_is_controlled_column_by_column() -> None:
    table = pa.table({"area": ["a", "b"], "events": [3, 40], "people": [9, 21]})
    controlled = control_table(table, ["events", "people"], DisclosureRule())
    assert controlled.column("events").to_pylist() == [None, 40]
    assert controlled.column("people").to_pylist() == [10, 20]
    assert controlled.column("area").to_pylist() == ["a", "b"]
