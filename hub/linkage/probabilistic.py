"""Probabilistic linkage on keyed encodings (splink 5, DuckDB): the records the exact passes left
apart.

After the deterministic passes (``hub.linkage.deterministic``) a person whose name was misspelt,
or who has no NHS number, PNC ID or pupil number in one source, can stay split. This step
compares records with a Fellegi-Sunter model trained without labels, on keyed encodings only:

- exact comparisons of tokens: date of birth, sex, postcode;
- names: the exact token, else the Dice similarity of the names' keyed Bloom filters
  (``hub.privacy.bloom``), computed in SQL (``bit_count`` of the AND of two filters), so a typo
  still scores.

Candidate pairs come from blocking rules on tokens (same date of birth; same surname and sex;
same postcode and forename). Pairs whose match probability reaches the threshold join their
deterministic clusters; every such link keeps its match weight. Nothing here sees a name or any
identifier in clear, and everything stays in the linkage zone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hub.linkage.deterministic import LinkInput, LinkResult
from hub.privacy.bloom import ENCODING_TYPE, ENCODINGS_FILE

log = logging.getLogger(__name__)

EXACT = ("tok_date_of_birth", "tok_sex", "tok_postcode")
NAMES = ("forename", "surname")
TOKEN = pa.binary(32)


@dataclass(frozen=True)
class ProbabilisticSettings:
    threshold: float = 0.99  # match probability from which a pair links
    dice_levels: tuple[float, ...] = (0.9, 0.75)  # name similarity levels below an exact match
    u_pairs: float = 2e6  # random pairs sampled to estimate the u probabilities
    seed: int = 1


@dataclass(frozen=True)
class Links:
    """The pairs that reached the threshold, between different deterministic clusters."""

    pairs: pa.Table  # record_l, record_r (row positions in the link result), match_weight
    clusters: npt.NDArray[np.int64]  # each record's cluster after joining them
    compared: int  # candidate pairs scored


def _encodings(path: Path) -> dict[str, dict[bytes, bytes]]:
    """Name token -> Bloom filter, per name kind, of one extract (empty when it has none)."""
    found: dict[str, dict[bytes, bytes]] = {kind: {} for kind in NAMES}
    file = path.parent / ENCODINGS_FILE
    if not file.is_file():
        return found
    table = pq.read_table(file)
    for kind, token, encoding in zip(
        table.column("kind").to_pylist(),
        table.column("token").to_pylist(),
        table.column("encoding").to_pylist(),
        strict=True,
    ):
        found.setdefault(kind, {})[token] = encoding
    return found


def features(inputs: list[LinkInput]) -> pa.Table:
    """One row per record, in ``link``'s order: its position, the tokens the model compares and
    the names' Bloom filters (null where a source does not have them)."""
    parts = []
    for item in sorted(inputs, key=lambda i: (i.agreement_id, i.extract_id)):
        tokens = pq.read_table(item.tokens_path)
        n = tokens.num_rows
        columns: dict[str, pa.Array] = {}
        for name in EXACT:
            columns[name] = (
                tokens.column(name).combine_chunks().cast(TOKEN)
                if name in tokens.column_names
                else pa.nulls(n, TOKEN)
            )
        encodings = _encodings(item.tokens_path)
        for kind in NAMES:
            name = f"tok_{kind}"
            values = (
                tokens.column(name).combine_chunks().cast(TOKEN)
                if name in tokens.column_names
                else pa.nulls(n, TOKEN)
            )
            columns[name] = values
            lookup = encodings.get(kind, {})
            columns[f"bf_{kind}"] = pa.array(
                [lookup.get(t) if t is not None else None for t in values.to_pylist()],
                ENCODING_TYPE,
            )
        parts.append(pa.table(columns))
    table = pa.concat_tables(parts) if parts else pa.table({})
    return table.append_column("unique_id", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _dice(kind: str) -> str:
    left, right = f'CAST("bf_{kind}_l" AS BIT)', f'CAST("bf_{kind}_r" AS BIT)'
    return (
        f"CAST(2 * bit_count({left} & {right}) AS DOUBLE) / "
        f"NULLIF(bit_count({left}) + bit_count({right}), 0)"
    )


def _settings(config: ProbabilisticSettings) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = [cl.ExactMatch(name) for name in EXACT]
    for kind in NAMES:
        levels: list[Any] = [
            cll.CustomLevel(
                f'"tok_{kind}_l" IS NULL OR "tok_{kind}_r" IS NULL', label_for_charts="null"
            ).configure(is_null_level=True),
            cll.ExactMatchLevel(f"tok_{kind}"),
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
            block_on("tok_date_of_birth"),
            block_on("tok_surname", "tok_sex"),
            block_on("tok_postcode", "tok_forename"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _join(
    clusters: npt.NDArray[np.int64], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Clusters joined along the record pairs ``left``-``right``: the connected components of
    the clusters, each labelled with its smallest cluster label."""
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


def link_probabilistic(
    result: LinkResult,
    inputs: list[LinkInput],
    config: ProbabilisticSettings | None = None,
) -> Links:
    """Score candidate pairs of ``result``'s records with a model trained on them (no labels)
    and join the deterministic clusters of every pair at or above the threshold."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    config = config or ProbabilisticSettings()
    table = features(inputs)
    clusters = result.records.column("cluster").to_numpy().astype(np.int64)
    con = duckdb.connect()
    try:
        con.register("records_arrow", table)
        con.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
        api = DuckDBAPI(connection=con)
        linker = Linker(api.register("records"), _settings(config), log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("tok_date_of_birth", "tok_surname", "tok_forename")], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=config.u_pairs, seed=config.seed)
        for rule in (block_on("tok_date_of_birth"), block_on("tok_surname", "tok_sex")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        predictions = linker.inference.predict(threshold_match_probability=config.threshold)
        scored = con.sql(
            f"SELECT unique_id_l, unique_id_r, match_weight FROM {predictions.physical_name} "
            "ORDER BY unique_id_l, unique_id_r"
        ).to_arrow_table()
        compared = int(scored.num_rows)
    finally:
        con.close()
    left = scored.column("unique_id_l").to_numpy().astype(np.int64)
    right = scored.column("unique_id_r").to_numpy().astype(np.int64)
    across = clusters[left] != clusters[right]
    pairs = pa.table(
        {
            "record_l": pa.array(left[across]),
            "record_r": pa.array(right[across]),
            "match_weight": pc.filter(scored.column("match_weight"), pa.array(across)),
        }
    )
    joined = _join(clusters, left[across], right[across]) if across.any() else clusters
    log.info("probabilistic linkage: %d pairs above the threshold joined clusters", pairs.num_rows)
    return Links(pairs, joined, compared)
