"""The linkage run: deterministic passes over every extract in force, then probabilistic matching,
incrementally.

1. The deterministic passes (``hub.linkage.deterministic``) run over every record each time: they
   are exact, fast and give the same clusters on the same inputs.
2. The probabilistic step (``hub.linkage.probabilistic``) scores only pairs with a record from an
   extract not linked before, against the whole population, with the saved model; links made
   earlier are kept (``hub.linkage.state``). So a new extract costs its own candidate pairs, not a
   relink of everything.
3. A *full relink* trains a new model version and scores every pair again. It happens on the
   first run, when the probabilistic settings or threshold change, when the saved state is gone,
   every ``full_relink_days`` (configuration), or when asked (``hub publish --full-relink``).

Links whose records are no longer in force (an extract past retention, an agreement revoked) drop
out. The clusters are the connected components of the deterministic clusters joined by the links.
Every link keeps its match weight and the pass that made it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.errors import InfrastructureError
from hub.linkage import probabilistic
from hub.linkage.config import LinkageConfig
from hub.linkage.deterministic import LinkInput, LinkResult, link
from hub.linkage.state import (
    LINKS_SCHEMA,
    LinkState,
    Model,
    load_model,
    load_state,
    next_model_version,
    save_model,
    save_records,
    save_state,
)
from hub.locks import exclusive
from hub.settings import Settings
from hub.storage import ZoneStore, zone_store

log = logging.getLogger(__name__)
PROBABILISTIC = "probabilistic"
LOCK_FILE = ".linkage.lock"  # in the data directory: one linkage run at a time


@dataclass(frozen=True)
class Linkage:
    """The outcome: every record's final cluster and how it was linked, and the links in force."""

    records: pa.Table  # agreement_id, extract_id, record, cluster, linked_by
    deterministic: LinkResult
    links: pa.Table  # hub.linkage.state.LINKS_SCHEMA: the probabilistic links in force
    report: dict[str, object] = field(default_factory=dict)  # for the release manifest


def _identities(records: pa.Table, rows: pa.Array, side: str) -> dict[str, pa.Array]:
    return {
        f"agreement_{side}": pc.take(records.column("agreement_id"), rows),
        f"extract_{side}": pc.take(records.column("extract_id"), rows),
        f"record_{side}": pc.take(records.column("record"), rows).cast(pa.int64()),
    }


def _positions(records: pa.Table, links: pa.Table, side: str) -> np.ndarray:
    """The row of ``records`` each link's ``side`` record is at."""
    index = pa.table(
        {
            f"agreement_{side}": records.column("agreement_id"),
            f"extract_{side}": records.column("extract_id"),
            f"record_{side}": records.column("record").cast(pa.int64()),
            "position": pa.array(np.arange(records.num_rows, dtype=np.int64)),
        }
    )
    numbered = links.append_column("link", pa.array(np.arange(links.num_rows, dtype=np.int64)))
    keys = [f"agreement_{side}", f"extract_{side}", f"record_{side}"]
    joined = numbered.select([*keys, "link"]).join(index, keys=keys).sort_by("link")
    return np.asarray(joined.column("position").to_numpy(), dtype=np.int64)


def _in_force(links: pa.Table, extracts: list[str]) -> pa.Table:
    value_set = pa.array(sorted(extracts), pa.string())
    keep = pc.and_(
        pc.is_in(links.column("extract_l"), value_set=value_set),
        pc.is_in(links.column("extract_r"), value_set=value_set),
    )
    return links.filter(keep)


def _model_digest(config: LinkageConfig) -> str:
    """What a saved model depends on: the settings and the comparisons' structure."""
    return f"{config.probabilistic.model_digest()};structure={probabilistic.STRUCTURE}"


def _full_relink_due(
    state: LinkState | None, model: Model | None, config: LinkageConfig, now: datetime
) -> str | None:
    """Why every pair must be scored again, or None."""
    settings = config.probabilistic
    if state is None:
        return "first run"
    if model is None:
        return "no saved model"
    if model.digest != _model_digest(config):
        return "the probabilistic settings changed"
    if state.threshold != settings.threshold:
        return "the threshold changed"
    every = settings.full_relink_days
    if every and now - state.full_relink_at >= timedelta(days=every):
        return f"{every} days since the last full relink"
    return None


def run_linkage(
    settings: Settings,
    inputs: list[LinkInput],
    config: LinkageConfig,
    *,
    encoding_version: int,
    full_relink: bool = False,
    now: datetime | None = None,
) -> Linkage:
    """Link every record of ``inputs``; update and use the saved linkage state (both in the
    linkage zone)."""
    now = now or datetime.now(UTC)
    store = zone_store(settings, "linkage")
    det = link(store, inputs, config)
    report: dict[str, object] = {
        "method": "deterministic passes, then probabilistic matching (splink) on keyed encodings"
        if config.probabilistic.enabled
        else "deterministic passes",
        "passes": list(det.pass_matches),  # in the order they ran
        "records": det.records.num_rows,
        "records_matched_by_pass": det.pass_matches,
        "clusters_after_deterministic_passes": len(pc.unique(det.records.column("cluster"))),
    }
    if not config.probabilistic.enabled or not det.records.num_rows:
        return Linkage(det.records, det, LINKS_SCHEMA.empty_table(), report)

    busy = InfrastructureError(
        "another linkage run is using the linkage state",
        hint="wait for the running one-picture DAG (or `hub publish`) to finish, then run again",
    )
    with exclusive(settings.data_dir / LOCK_FILE, busy):
        return _probabilistic(
            store, inputs, config, det, report, encoding_version, full_relink, now
        )


def _probabilistic(
    store: ZoneStore,
    inputs: list[LinkInput],
    config: LinkageConfig,
    det: LinkResult,
    report: dict[str, object],
    encoding_version: int,
    full_relink: bool,
    now: datetime,
) -> Linkage:
    """The probabilistic step and the saved state (one run at a time: ``run_linkage``)."""
    started = time.perf_counter()
    extract_ids = sorted({i.extract_id for i in inputs})
    # a full relink needs nothing saved: it is also the way out of a damaged state
    state = None if full_relink else load_state(store)
    model = load_model(store, state.model_version) if state is not None else None
    why = "asked" if full_relink else _full_relink_due(state, model, config, now)
    kept = LINKS_SCHEMA.empty_table()
    if why is not None or model is None or state is None:
        found = probabilistic.profiles(store, det, inputs, encoding_version)
        try:
            trained = probabilistic.train(found, config.probabilistic)
        except probabilistic.UntrainableError as exc:
            log.warning("linkage: probabilistic step skipped: %s", exc)
            report["probabilistic"] = {"run": "skipped", "reason": str(exc)}
            return Linkage(det.records, det, LINKS_SCHEMA.empty_table(), report)
        model = Model(
            version=next_model_version(store),
            trained_at=now.isoformat(timespec="seconds"),
            digest=_model_digest(config),
            records=found.records.num_rows,
            profiles=found.count,
            splink=trained,
        )
        save_model(store, model)
        full_at, new_only = now, False
        log.info("linkage: full relink (%s), model version %d trained", why, model.version)
    else:
        kept = _in_force(state.links, extract_ids)
        new = frozenset(extract_ids) - state.linked_extracts
        found = probabilistic.profiles(store, det, inputs, encoding_version, new)
        full_at, new_only = state.full_relink_at, True
    scored = (
        probabilistic.predict(found, model.splink, config.probabilistic, new_only=new_only)
        if not new_only or pc.any(found.table.column("is_new")).as_py()
        else None
    )
    fresh = LINKS_SCHEMA.empty_table()
    if scored is not None and scored.num_rows:
        fresh = pa.table(
            {
                **_identities(det.records, scored.column("unique_id_l"), "l"),
                **_identities(det.records, scored.column("unique_id_r"), "r"),
                "match_weight": scored.column("match_weight").cast(pa.float64()),
                "match_probability": scored.column("match_probability").cast(pa.float64()),
                "model_version": pa.array(np.full(scored.num_rows, model.version, np.int32)),
                "pass": pa.repeat(pa.scalar(PROBABILISTIC), scored.num_rows),
            },
            schema=LINKS_SCHEMA,
        )
    links = _distinct(pa.concat_tables([kept, fresh]))
    save_state(
        store,
        LinkState(
            model.version, config.probabilistic.threshold, frozenset(extract_ids), full_at, links
        ),
    )
    records, linked = _apply(det, links)
    save_records(store, records)
    weights = links.column("match_probability").to_numpy()
    report["probabilistic"] = {
        "run": "full relink" if not new_only else "incremental",
        "reason": why,
        "threshold": config.probabilistic.threshold,
        "model": model.summary(),
        "profiles": found.count,  # distinct (cluster, codes) the records come to
        "profiles_scored": int(pc.sum(found.table.column("is_new")).as_py() or 0)
        if scored is not None
        else 0,
        "new_links": fresh.num_rows,
        "links_in_force": links.num_rows,
        "records_linked": linked,
        # the model's own estimate, without labels: the expected number of wrong links
        "expected_false_links": round(float((1 - weights).sum()), 2),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return Linkage(records, det, links, report)


def _apply(det: LinkResult, links: pa.Table) -> tuple[pa.Table, int]:
    """The deterministic clusters joined by ``links``, with "probabilistic" added to how each
    linked record was linked; and how many records the links touch."""
    left, right = _positions(det.records, links, "l"), _positions(det.records, links, "r")
    clusters = probabilistic.join_clusters(
        det.records.column("cluster").to_numpy().astype(np.int64), left, right
    )
    linked = np.zeros(det.records.num_rows, dtype=bool)
    linked[left] = True
    linked[right] = True
    linked_by = np.asarray(det.records.column("linked_by").to_pylist(), dtype=object)
    linked_by[linked] = np.where(
        linked_by[linked] == "", PROBABILISTIC, linked_by[linked] + "," + PROBABILISTIC
    )
    records = (
        det.records.drop_columns(["cluster", "linked_by"])
        .append_column("cluster", pa.array(clusters, pa.int64()))
        .append_column("linked_by", pa.array(linked_by.tolist(), pa.string()))
    )
    return records, int(linked.sum())


def linked_now(settings: Settings, inputs: list[LinkInput], config: LinkageConfig) -> Linkage:
    """The clusters the last run left for ``inputs``, from the deterministic passes and the saved
    links, scoring nothing (for checks against a ground truth, and for reports)."""
    store = zone_store(settings, "linkage")
    det = link(store, inputs, config)
    state = load_state(store)
    if state is None or not config.probabilistic.enabled:
        return Linkage(det.records, det, LINKS_SCHEMA.empty_table())
    links = _in_force(state.links, sorted({i.extract_id for i in inputs}))
    return Linkage(_apply(det, links)[0], det, links)


def _distinct(links: pa.Table) -> pa.Table:
    """One row per pair of records (a rerun after a crash scores some pairs again)."""
    if not links.num_rows:
        return links
    keys = LINKS_SCHEMA.names[:6]
    numbered = links.append_column("row", pa.array(np.arange(links.num_rows, dtype=np.int64)))
    first = numbered.group_by(keys, use_threads=False).aggregate([("row", "min")])
    return links.take(pa.array(np.sort(first.column("row_min").to_numpy())))
