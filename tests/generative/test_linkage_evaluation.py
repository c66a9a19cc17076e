"""Linkage quality measures agree with counting every pair of records by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.linkage.evaluation import evaluate, linkage_quality

records = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(records)
def test_pairwise_counts_match_brute_force(rows: list[tuple[int, int]]) -> None:
    clusters = np.array([c for c, _ in rows], np.int64)
    people = np.array([p for _, p in rows], np.int64)
    quality = linkage_quality(clusters, people)
    pairs = list(itertools.combinations(range(len(rows)), 2))
    true_pairs = {(i, j) for i, j in pairs if people[i] == people[j]}
    predicted = {(i, j) for i, j in pairs if clusters[i] == clusters[j]}
    assert quality.true_pairs == len(true_pairs)
    assert quality.predicted_pairs == len(predicted)
    assert quality.correct_pairs == len(true_pairs & predicted)
    assert quality.precision == (len(true_pairs & predicted) / len(predicted) if predicted else 1.0)
    assert quality.recall == (len(true_pairs & predicted) / len(true_pairs) if true_pairs else 1.0)
    members: dict[int, set[int]] = {}
    records_of: dict[int, set[int]] = {}
    for c, p in rows:
        members.setdefault(c, set()).add(p)
        records_of.setdefault(p, set()).add(c)
    assert quality.clusters == len(members) and quality.people == len(records_of)
    assert quality.merged_clusters == sum(1 for ps in members.values() if len(ps) > 1)
    assert quality.split_people == sum(1 for cs in records_of.values() if len(cs) > 1)
    exact = sum(
        1 for c, ps in members.items() if len(ps) == 1 and records_of[next(iter(ps))] == {c}
    )
    assert quality.exact_clusters == exact


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=40))
def test_the_truth_scores_perfectly_and_singletons_find_nothing(people: list[int]) -> None:
    truth = np.array(people, np.int64)
    perfect = linkage_quality(truth * 7 + 3, truth)  # other labels, the same grouping
    assert perfect.precision == perfect.recall == 1.0
    assert perfect.exact_clusters == perfect.people and perfect.split_people == 0
    alone = linkage_quality(np.arange(len(people), dtype=np.int64), truth)
    assert alone.predicted_pairs == 0 and alone.precision == 1.0
    assert alone.recall == (0.0 if alone.true_pairs else 1.0)


def test_evaluate_joins_records_to_their_true_person() -> None:
    records = pa.table(
        {
            "agreement_id": ["a", "a", "b", "b"],
            "record": [1, 2, 1, 2],
            "cluster": [10, 10, 10, 11],
        }
    )
    truth = pa.table(
        {
            "agreement_id": ["b", "b", "a", "a"],
            "row_number": [2, 1, 2, 1],
            "person_id": ["p2", "p1", "p1", "p1"],
        }
    )
    quality = evaluate(records, truth)
    assert (quality.precision, quality.recall) == (1.0, 1.0)
    assert quality.as_dict()["exact_clusters"] == 2
    with pytest.raises(ValueError, match="does not cover"):
        evaluate(records, truth.slice(0, 3))
