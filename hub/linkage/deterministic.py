"""Deterministic linkage: records that share a token in any pass are the same person.

Passes run in the configured order (``hub.linkage.config``; by default NHS number, pupil number,
PNC ID, the partner's own person reference, then the composite keys); the clusters are the
connected components of the graph they draw.
Components are found by vectorised label propagation (numpy), so no Python loop runs per record.
Everything here reads the linkage zone only, through its store (``hub.storage``), on the local
filesystem or on object storage alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.linkage.config import LinkageConfig
from hub.storage import ZoneStore


@dataclass(frozen=True)
class LinkInput:
    """One extract to link. ``tokens_path`` is its tokens file's path inside the linkage zone,
    ``<agreement>/<extract>/tokens.parquet`` (its name encodings are beside it)."""

    agreement_id: str
    extract_id: str
    tokens_path: str


@dataclass(frozen=True)
class LinkResult:
    """One row per record: its source, record number and cluster; plus what each pass did."""

    records: pa.Table  # agreement_id, extract_id, record, cluster (int64), linked_by (string)
    pass_matches: dict[str, int]  # pass -> records that share its token with another record


def _load(
    store: ZoneStore, inputs: list[LinkInput], config: LinkageConfig
) -> tuple[pa.Table, list[str]]:
    """The record numbers and the passes' token columns of every input (nothing else is read),
    with each record's agreement and extract."""
    tables = []
    for item in sorted(inputs, key=lambda i: (i.agreement_id, i.extract_id)):
        present = store.read_schema(item.tokens_path).names
        table = store.read_parquet(item.tokens_path, columns=["record", *config.passes(present)])
        n = table.num_rows
        for name, value in (("agreement_id", item.agreement_id), ("extract_id", item.extract_id)):
            table = table.append_column(name, pa.repeat(pa.scalar(value, pa.string()), n))
        tables.append(table)
    combined = pa.concat_tables(tables, promote_options="default")
    return combined, config.passes(combined.column_names)


def _components(n: int, groups: list[np.ndarray]) -> np.ndarray:
    """Connected components: each record's label becomes the smallest index it is joined to.

    ``groups`` holds, per pass, an array giving each record's group code (-1 for no token).
    """
    labels = np.arange(n, dtype=np.int64)
    while True:
        before = labels.copy()
        for codes in groups:
            has = codes >= 0
            members = np.flatnonzero(has)
            group_min = np.full(int(codes.max(initial=-1)) + 1, n, dtype=np.int64)
            np.minimum.at(group_min, codes[members], labels[members])
            labels[members] = np.minimum(labels[members], group_min[codes[members]])
        labels = labels[labels]  # pointer jumping shortens chains
        if np.array_equal(labels, before):
            return labels


def link(
    store: ZoneStore, inputs: list[LinkInput], config: LinkageConfig | None = None
) -> LinkResult:
    """Cluster every record of the given extracts by their tokens (read from ``store``, the
    linkage zone), pass by pass."""
    table, passes = _load(store, inputs, config or LinkageConfig())
    n = table.num_rows
    groups: list[np.ndarray] = []
    matched: dict[str, int] = {}
    shared_masks = []
    for name in passes:
        encoded = pc.dictionary_encode(table.column(name)).combine_chunks()
        codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
        # at least one bin: a pass whose tokens are all missing has an empty dictionary
        counts = np.bincount(codes[codes >= 0], minlength=max(len(encoded.dictionary), 1))
        shared = (codes >= 0) & (counts[np.maximum(codes, 0)] > 1)
        matched[name.removeprefix("tok_")] = int(shared.sum())
        shared_masks.append(shared)
        groups.append(np.where(shared, codes, -1))
    labels = _components(n, groups) if n else np.zeros(0, dtype=np.int64)
    names = [p.removeprefix("tok_") for p in passes]
    linked_by = _linked_by(shared_masks, names, n)
    records = pa.table(
        {
            "agreement_id": table.column("agreement_id"),
            "extract_id": table.column("extract_id"),
            "record": table.column("record"),
            "cluster": pa.array(labels, pa.int64()),
            "linked_by": pa.array(linked_by, pa.string()),
        }
    )
    return LinkResult(records=records, pass_matches=matched)


def _linked_by(masks: list[np.ndarray], names: list[str], n: int) -> list[str]:
    """For each record, the passes in which it shares a token with another record."""
    labels = np.full(n, "", dtype=object)
    for mask, name in zip(masks, names, strict=True):
        labels[mask] = np.where(labels[mask] == "", name, labels[mask] + "," + name)
    return [str(v) for v in labels]
