"""How good a linkage is, against a ground truth: pairwise and cluster-level measures.

Used by tests and benchmarks on the synthetic partnership, whose generator knows which true person
each extract row belongs to (``ground_truth/truth.parquet``); the hub itself never has a ground
truth. Every measure is computed from group sizes with numpy, so ten million records take seconds.

Pairwise: two records are a *true pair* when they belong to the same person and a *predicted
pair* when the linkage put them in the same cluster. Precision is the share of predicted pairs
that are true, recall the share of true pairs that were predicted. With no predicted pairs,
precision is 1 (nothing claimed, nothing wrong); with no true pairs, recall is 1.

Cluster-level: a person is *whole* when all their records are in one cluster; a cluster is
*pure* when all its records belong to one person; a cluster is *exact* when it is both, holding
exactly one person's records. Linking too little splits people; linking too much merges them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class LinkageQuality:
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    people: int  # true people among the records
    clusters: int  # clusters the linkage formed
    exact_clusters: int  # clusters holding exactly one person's records, all of them
    split_people: int  # people whose records are in two or more clusters
    merged_clusters: int  # clusters holding records of two or more people

    def as_dict(self) -> dict[str, float | int]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _codes(values: pa.Array | pa.ChunkedArray | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Dense integer codes of the values (equal values, equal codes)."""
    if isinstance(values, np.ndarray):
        _, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64)
    if values.null_count:
        raise ValueError("every record needs a cluster and a true person")
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _pairs(sizes: npt.NDArray[np.int64]) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def linkage_quality(
    clusters: pa.Array | pa.ChunkedArray | npt.NDArray[np.int64],
    people: pa.Array | pa.ChunkedArray | npt.NDArray[np.int64],
) -> LinkageQuality:
    """The quality of ``clusters`` (each record's cluster) against ``people`` (each record's true
    person), records in the same order."""
    predicted, truth = _codes(clusters), _codes(people)
    if len(predicted) != len(truth):
        raise ValueError("clusters and people must describe the same records")
    n = len(predicted)
    cluster_sizes = np.bincount(predicted) if n else np.zeros(0, np.int64)
    person_sizes = np.bincount(truth) if n else np.zeros(0, np.int64)
    # the cells of the cluster x person table that hold records, and how many each holds
    cells, cell_sizes = np.unique(predicted * max(len(person_sizes), 1) + truth, return_counts=True)
    cell_clusters = cells // max(len(person_sizes), 1)
    cell_people = cells % max(len(person_sizes), 1)
    true_pairs, predicted_pairs = _pairs(person_sizes), _pairs(cluster_sizes)
    correct = _pairs(cell_sizes.astype(np.int64))
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    people_per_cluster = np.bincount(cell_clusters, minlength=len(cluster_sizes))
    clusters_per_person = np.bincount(cell_people, minlength=len(person_sizes))
    whole = cell_sizes == person_sizes[cell_people]  # the cell holds all the person's records
    exact = whole & (cell_sizes == cluster_sizes[cell_clusters])  # and all the cluster's
    return LinkageQuality(
        records=n,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
        precision=precision,
        recall=recall,
        f1=f1,
        people=len(person_sizes),
        clusters=len(cluster_sizes),
        exact_clusters=int(exact.sum()),
        split_people=int((clusters_per_person > 1).sum()),
        merged_clusters=int((people_per_cluster > 1).sum()),
    )


def evaluate(records: pa.Table, truth: pa.Table) -> LinkageQuality:
    """The quality of a linkage's ``records`` (``agreement_id``, ``record``, ``cluster``, as
    ``hub.linkage.link`` gives them) against the generator's ``truth`` (``agreement_id``,
    ``row_number``, ``person_id``). Every record must have its true person."""
    keyed = records.select(["agreement_id", "record", "cluster"])
    known = truth.select(["agreement_id", "row_number", "person_id"]).rename_columns(
        ["agreement_id", "record", "person_id"]
    )
    joined = keyed.join(known, ["agreement_id", "record"], join_type="left outer")
    if joined.num_rows != records.num_rows or joined.column("person_id").null_count:
        raise ValueError("the ground truth does not cover every linked record")
    return linkage_quality(joined.column("cluster"), joined.column("person_id"))
