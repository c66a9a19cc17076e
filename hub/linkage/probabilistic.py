"""Probabilistic linkage on keyed encodings (splink 5, DuckDB): the people the exact passes left
apart.

After the deterministic passes (``hub.linkage.deterministic``) a person whose name was misspelt,
or who has no NHS number, PNC ID or pupil number in one source, can stay split. This step
compares records with a Fellegi-Sunter model trained without labels, on keyed encodings only:

- exact comparisons: date of birth, sex, postcode;
- names: the exact token, else the Dice similarity of the names' keyed Bloom filters
  (``hub.privacy.bloom``), computed in SQL (``bit_count`` of the AND of two filters), so a typo
  still scores.

What DuckDB sees is less than the tokens: each token column becomes small integer codes (equal
codes, equal tokens), and records of one deterministic cluster with the same codes are compared
once, as one *profile*. Candidate pairs come from blocking rules on those codes, never within one
deterministic cluster, and in an incremental run only pairs with a record new since the last run
(``hub.linkage.engine``). Nothing here sees a name or any identifier in clear, and everything stays
in the linkage zone: tokens and encodings are read through its store (``hub.storage``) as Arrow
tables and handed to an in-memory DuckDB, never as a file path or URL.

Training (``train``): the prior from a strict rule, u probabilities from random pairs, then
expectation maximisation on two blocking rules, over a random sample of profiles when there are
many (EM on a sample estimates the same m probabilities, and the prior does not depend on the
sample's size). The trained model is a splink settings dictionary, saved as a versioned artefact
by ``hub.linkage.state``; ``predict`` scores pairs with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hub.linkage.config import ProbabilisticConfig
from hub.linkage.deterministic import LinkInput, LinkResult
from hub.privacy.bloom import ENCODING_TYPE, encodings_path, encodings_versions
from hub.privacy.rotation import token_file_version
from hub.storage import ZoneStore

log = logging.getLogger(__name__)

STRUCTURE = 1  # the comparisons' version: a change retrains saved models (hub.linkage.engine)
EXACT = ("date_of_birth", "sex", "postcode")
NAMES = ("forename", "surname")
FIELDS = EXACT + NAMES
TRAINING_SAMPLE = 300_000  # records EM is trained on at most
MIN_TRAINING_RECORDS = 1_000  # fewer, and there is too little to learn a model from
# Candidate pairs: two of date of birth, a name and postcode agree. Each rule pairs a field with
# few values per person (a name) with a discriminating one, so no rule makes huge blocks (same
# date of birth alone: 60M pairs among 2M records; same forename and surname: 54M); a pair is
# missed only when its date of birth and postcode both differ, or both names and one of those.
BLOCKING_RULES = (
    "l.date_of_birth = r.date_of_birth AND l.forename = r.forename",
    "l.date_of_birth = r.date_of_birth AND l.surname = r.surname",
    "l.date_of_birth = r.date_of_birth AND l.postcode = r.postcode",
    "l.postcode = r.postcode AND l.forename = r.forename",
    "l.postcode = r.postcode AND l.surname = r.surname",
)
_PRIOR_RULE = f"{BLOCKING_RULES[0]} AND l.surname = r.surname"  # dob and both names
# EM blocks on fewer fields (each trains the others), over a sample of records
_EM_RULES = (
    "l.date_of_birth = r.date_of_birth",
    "l.forename = r.forename AND l.surname = r.surname",
)


class UntrainableError(Exception):
    """Too little data to train a model: the run links on the deterministic passes alone."""


@dataclass(frozen=True)
class Profiles:
    """What the model compares: one row per distinct (deterministic cluster, codes, is new)."""

    table: pa.Table  # unique_id, cluster, is_new, <field> codes (int32), bf_<name> (64 bytes)
    records: pa.Table  # the same columns for every record (unique_id: its row): for training

    @property
    def count(self) -> int:
        return int(self.table.num_rows)


def _encodings(store: ZoneStore, item: LinkInput, encoding_version: int) -> pa.Table | None:
    """The extract's name encodings, when they are under the current encoding key and their
    tokens at the tokens file's key version (otherwise they would join nothing, or wrongly)."""
    file = encodings_path(item.tokens_path)
    if not store.exists(file):
        return None
    token_version, version = encodings_versions(store, file)
    if version != encoding_version or token_version != token_file_version(store, item.tokens_path):
        return None
    return store.read_parquet(file)


def _filters(tokens: pa.Array, encodings: pa.Table | None, kind: str) -> pa.Array:
    """Each record's Bloom filter for its ``kind`` name token (null without one)."""
    if encodings is None:
        return pa.nulls(len(tokens), ENCODING_TYPE)
    rows = encodings.filter(pc.equal(encodings.column("kind"), kind))
    at = pc.index_in(tokens, value_set=rows.column("token").combine_chunks())
    return pc.take(rows.column("encoding").combine_chunks(), at)


def _columns(store: ZoneStore, item: LinkInput, encoding_version: int) -> pa.Table:
    """The tokens the model compares and the names' filters, for one extract."""
    present = set(store.read_schema(item.tokens_path).names)
    wanted = [f"tok_{f}" for f in FIELDS if f"tok_{f}" in present]
    tokens = store.read_parquet(item.tokens_path, columns=wanted)
    encodings = _encodings(store, item, encoding_version)
    n = tokens.num_rows
    columns: dict[str, pa.Array] = {}
    for field in FIELDS:
        name = f"tok_{field}"
        values = (
            tokens.column(name).combine_chunks().cast(pa.binary(32))
            if name in present
            else pa.nulls(n, pa.binary(32))
        )
        columns[field] = values
        if field in NAMES:
            columns[f"bf_{field}"] = _filters(values, encodings, field)
    return pa.table(columns)


def profiles(
    store: ZoneStore,
    result: LinkResult,
    inputs: list[LinkInput],
    encoding_version: int,
    new_extracts: frozenset[str] | None = None,
) -> Profiles:
    """``result``'s records as profiles, their tokens and encodings read from ``store`` (the
    linkage zone); ``new_extracts`` (None: all) are those to score."""
    ordered = sorted(inputs, key=lambda i: (i.agreement_id, i.extract_id))
    parts = [_columns(store, item, encoding_version) for item in ordered]
    table = pa.concat_tables(parts) if parts else pa.table({})
    n = table.num_rows
    extract_ids = result.records.column("extract_id")
    is_new = (
        pa.array(np.ones(n, dtype=bool))
        if new_extracts is None
        else pc.is_in(extract_ids, value_set=pa.array(sorted(new_extracts), pa.string()))
    )
    keys: dict[str, pa.Array] = {
        "cluster": result.records.column("cluster").combine_chunks(),
        "is_new": pc.fill_null(is_new, False),
    }
    for field in FIELDS:  # tokens become codes: equal codes, equal tokens; no token leaves here
        encoded = pc.dictionary_encode(table.column(field).combine_chunks())
        keys[field] = encoded.indices.cast(pa.int32())
    rows = pa.array(np.arange(n, dtype=np.int64))
    keyed = pa.table(keys).append_column("row", rows)
    grouped = keyed.group_by(list(keys), use_threads=False).aggregate([("row", "min")])
    first = grouped.sort_by("row_min").column("row_min").combine_chunks()
    filters = {f"bf_{k}": table.column(f"bf_{k}").combine_chunks() for k in NAMES}
    every = pa.table({"unique_id": rows, **keys, **filters})
    return Profiles(every.take(first), every)


@contextmanager
def _database(table: pa.Table) -> Iterator[Any]:
    """An in-memory DuckDB holding ``table`` as ``records``, filters as BIT with their counts."""
    import duckdb

    con = duckdb.connect(config={"threads": 2, "preserve_insertion_order": False})
    try:
        con.register("profiles_arrow", table)
        filters = ", ".join(
            f"CAST(bf_{k} AS BIT) AS bf_{k}, bit_count(CAST(bf_{k} AS BIT)) AS bfn_{k}"
            for k in NAMES
        )
        plain = ", ".join(c for c in table.column_names if not c.startswith("bf_"))
        con.execute(f"CREATE TABLE records AS SELECT {plain}, {filters} FROM profiles_arrow")
        con.unregister("profiles_arrow")
        yield con
    finally:
        con.close()


def _dice(kind: str) -> str:
    return (
        f'CAST(2 * bit_count("bf_{kind}_l" & "bf_{kind}_r") AS DOUBLE) / '
        f'NULLIF("bfn_{kind}_l" + "bfn_{kind}_r", 0)'
    )


def _settings(config: ProbabilisticConfig, rules: list[str]) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    comparisons: list[Any] = [cl.ExactMatch(name) for name in EXACT]
    for kind in NAMES:
        levels: list[Any] = [
            cll.CustomLevel(
                f'"{kind}_l" IS NULL OR "{kind}_r" IS NULL', label_for_charts="null"
            ).configure(is_null_level=True),
            cll.ExactMatchLevel(kind),
        ]
        levels += [
            cll.CustomLevel(f"{_dice(kind)} >= {level}", label_for_charts=f"dice >= {level}")
            for level in config.dice_levels
        ]
        levels.append(cll.ElseLevel())
        comparisons.append(cl.CustomComparison(levels, output_column_name=kind))
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in rules
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def train(found: Profiles, config: ProbabilisticConfig) -> dict[str, Any]:
    """A model trained on ``found``'s records without labels: splink's settings dictionary.

    Records, not profiles: profiles leave out the exact repeats within a cluster, so the true
    matches among them are the ones that differ, and m probabilities learnt there would be
    biased low."""
    from splink.internals.exceptions import SplinkException

    table = found.records
    if table.num_rows < MIN_TRAINING_RECORDS:
        raise UntrainableError(
            f"{table.num_rows:,} records are too few to train a model on "
            f"(at least {MIN_TRAINING_RECORDS:,})"
        )
    try:
        return _train(table, config)
    except SplinkException as exc:  # e.g. no pair to learn a comparison's levels from
        raise UntrainableError(f"the model could not be trained ({type(exc).__name__})") from None


def _train(table: pa.Table, config: ProbabilisticConfig) -> dict[str, Any]:
    from splink import DuckDBAPI, Linker

    with _database(table) as con:
        linker = Linker(
            DuckDBAPI(connection=con).register("records"),
            _settings(config, list(BLOCKING_RULES)),
            log_level=logging.WARNING,
        )
        linker.training.estimate_probability_two_random_records_match([_PRIOR_RULE], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=config.u_pairs, seed=config.seed)
        model: dict[str, Any] = linker.misc.save_model_to_json()
    sample = _sample(table, config.seed)
    with _database(sample) as con:
        linker = Linker(
            DuckDBAPI(connection=con).register("records"), model, log_level=logging.WARNING
        )
        for rule in _EM_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        trained: dict[str, Any] = linker.misc.save_model_to_json()
    return trained


def _sample(table: pa.Table, seed: int) -> pa.Table:
    if table.num_rows <= TRAINING_SAMPLE:
        return table
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(table.num_rows, TRAINING_SAMPLE, replace=False))
    return table.take(pa.array(rows))


def predict(
    found: Profiles, model: dict[str, Any], config: ProbabilisticConfig, *, new_only: bool
) -> pa.Table:
    """The pairs of profiles (``unique_id_l``, ``unique_id_r``, ``match_weight``,
    ``match_probability``) at or above the threshold, never two of one deterministic cluster;
    with ``new_only``, only pairs with at least one new profile."""
    from splink import DuckDBAPI, Linker

    extra = " AND l.cluster <> r.cluster" + (" AND (l.is_new OR r.is_new)" if new_only else "")
    settings = {
        **model,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": rule + extra, "sql_dialect": "duckdb"} for rule in BLOCKING_RULES
        ],
    }
    with _database(found.table) as con:
        linker = Linker(
            DuckDBAPI(connection=con).register("records"), settings, log_level=logging.WARNING
        )
        predictions = linker.inference.predict(threshold_match_probability=config.threshold)
        scored: pa.Table = con.sql(
            "SELECT unique_id_l, unique_id_r, match_weight, match_probability "
            f"FROM {predictions.physical_name} ORDER BY unique_id_l, unique_id_r"
        ).to_arrow_table()
    return scored


def join_clusters(
    clusters: npt.NDArray[np.int64], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Clusters joined along the record pairs ``left``-``right``: the connected components of
    the clusters, each labelled with its smallest cluster label."""
    if not len(left):
        return clusters
    labels_of, node = np.unique(clusters, return_inverse=True)
    a, b = node[left], node[right]
    parent = np.arange(len(labels_of), dtype=np.int64)
    while True:
        before = parent.copy()
        low = np.minimum(parent[a], parent[b])
        np.minimum.at(parent, a, low)
        np.minimum.at(parent, b, low)
        parent = parent[parent]  # pointer jumping: labels are node indices
        if np.array_equal(parent, before):
            return np.asarray(labels_of[parent[node]], dtype=np.int64)


@dataclass(frozen=True)
class Links:
    """A one-off probabilistic run (no saved state): the pairs that reached the threshold."""

    pairs: pa.Table  # record_l, record_r (row positions in the link result), match_weight
    clusters: npt.NDArray[np.int64]  # each record's cluster after joining them
    compared: int  # profiles compared


def link_probabilistic(
    store: ZoneStore,
    result: LinkResult,
    inputs: list[LinkInput],
    config: ProbabilisticConfig | None = None,
    *,
    encoding_version: int = 1,
) -> Links:
    """Train on ``result``'s records, score every candidate pair and join the deterministic
    clusters of the pairs at or above the threshold, keeping nothing (the hub's runs go through
    ``hub.linkage.engine``, which saves the model and the links; benchmarks and tests use this)."""
    config = config or ProbabilisticConfig()
    found = profiles(store, result, inputs, encoding_version)
    scored = predict(found, train(found, config), config, new_only=False)
    left = scored.column("unique_id_l").to_numpy().astype(np.int64)
    right = scored.column("unique_id_r").to_numpy().astype(np.int64)
    pairs = pa.table(
        {
            "record_l": pa.array(left),
            "record_r": pa.array(right),
            "match_weight": scored.column("match_weight"),
        }
    )
    clusters = result.records.column("cluster").to_numpy().astype(np.int64)
    return Links(pairs, join_clusters(clusters, left, right), found.count)
