"""What linkage keeps between runs, in ``linkage/_state/`` (never published):

- ``models/model-<NNNN>.json``: each trained probabilistic model, a versioned artefact: splink's
  settings dictionary (comparisons, m and u probabilities, prior) with when it was trained, on how
  many records, and the settings digest it was trained under. Models hold no token or encoding.
- ``links.parquet``: the probabilistic links in force, by record identity (agreement, extract,
  record number on each side) with the match weight and probability and the model version that
  made them. Record identities do not change when keys rotate, so links survive rotations.
- ``state.json``: the current model version, the extracts already linked, and when everything
  was last linked again (a full relink);
- ``records.parquet``: the last run's outcome for every record (agreement, extract, record
  number, cluster, and ``linked_by``, the passes that linked it), for audit and review.

Every file is read and written through the linkage zone's store (``hub.storage``), each written
whole and atomically (a temporary file renamed into place locally, an object that appears only
once uploaded whole on object storage); ``links.parquet`` goes before ``state.json``, so a crash
between them leaves extracts marked new that are already linked, and the next run scores them
again to the same links.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa

from hub.errors import IntegrityError, UserError
from hub.storage import ZoneStore

STATE_DIR = "_state"  # in the linkage zone
MODELS_DIR = f"{STATE_DIR}/models"
STATE_FILE = f"{STATE_DIR}/state.json"
LINKS_FILE = f"{STATE_DIR}/links.parquet"
_MODEL_NAME = re.compile(r"model-([0-9]+)\.json")
MODEL_FORMAT = "svd-hub-linkage-model"
LINKS_SCHEMA = pa.schema(
    [
        ("agreement_l", pa.string()),
        ("extract_l", pa.string()),
        ("record_l", pa.int64()),
        ("agreement_r", pa.string()),
        ("extract_r", pa.string()),
        ("record_r", pa.int64()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        ("model_version", pa.int32()),
        ("pass", pa.string()),  # the pass that made the link
    ]
)
RECORDS_FILE = "records.parquet"  # the last run's clusters: how each record was linked


@dataclass(frozen=True)
class Model:
    version: int
    trained_at: str
    digest: str  # ProbabilisticConfig.model_digest() it was trained under
    records: int
    profiles: int
    splink: dict[str, Any]

    def summary(self) -> dict[str, object]:
        return {
            "version": self.version,
            "trained_at": self.trained_at,
            "records": self.records,
            "profiles": self.profiles,
            "prior_match_probability": self.splink.get("probability_two_random_records_match"),
        }


@dataclass(frozen=True)
class LinkState:
    model_version: int
    threshold: float
    linked_extracts: frozenset[str]
    full_relink_at: datetime
    links: pa.Table  # LINKS_SCHEMA


def model_path(version: int) -> str:
    """Where model ``version`` is kept in the linkage zone."""
    return f"{MODELS_DIR}/model-{version:04d}.json"


def save_model(store: ZoneStore, model: Model) -> str:
    """Save ``model`` in the linkage zone ``store``; its path there."""
    path = model_path(model.version)
    doc = {
        "format": MODEL_FORMAT,
        "version": model.version,
        "trained_at": model.trained_at,
        "settings_digest": model.digest,
        "records": model.records,
        "profiles": model.profiles,
        "splink": model.splink,
    }
    store.write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def next_model_version(store: ZoneStore) -> int:
    found = [
        int(match.group(1))
        for path in store.list(MODELS_DIR)
        if (match := _MODEL_NAME.fullmatch(PurePosixPath(path).name))
    ]
    return max(found, default=0) + 1


def load_model(store: ZoneStore, version: int) -> Model | None:
    path = model_path(version)
    try:
        text = store.read_text(path)
    except UserError:  # not there
        return None
    try:
        doc = json.loads(text)
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError("format")
        return Model(
            version=int(doc["version"]),
            trained_at=str(doc["trained_at"]),
            digest=str(doc["settings_digest"]),
            records=int(doc["records"]),
            profiles=int(doc["profiles"]),
            splink=dict(doc["splink"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(
            f"the linkage model {path} in the linkage zone is damaged",
            hint="delete it and run the one-picture DAG again with a full relink "
            "(`hub publish --full-relink`)",
        ) from None


def load_state(store: ZoneStore) -> LinkState | None:
    """The state the last run left, or None (first run, or its files are gone)."""
    if not store.exists(STATE_FILE) or not store.exists(LINKS_FILE):
        return None
    try:
        doc = json.loads(store.read_text(STATE_FILE))
        at = datetime.fromisoformat(doc["full_relink_at"])
        return LinkState(
            model_version=int(doc["model_version"]),
            threshold=float(doc["threshold"]),
            linked_extracts=frozenset(str(e) for e in doc["linked_extracts"]),
            full_relink_at=at if at.tzinfo else at.replace(tzinfo=UTC),
            links=store.read_parquet(LINKS_FILE).cast(LINKS_SCHEMA),
        )
    except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        raise IntegrityError(
            f"the linkage state in {STATE_DIR}/ of the linkage zone is damaged",
            hint="run the one-picture DAG again with a full relink (`hub publish --full-relink`)",
        ) from None


def save_state(store: ZoneStore, state: LinkState) -> None:
    links = state.links.cast(LINKS_SCHEMA).sort_by(
        [(name, "ascending") for name in LINKS_SCHEMA.names[:6]]
    )
    store.write_parquet(LINKS_FILE, links)
    doc = {
        "model_version": state.model_version,
        "threshold": state.threshold,
        "linked_extracts": sorted(state.linked_extracts),
        "full_relink_at": state.full_relink_at.isoformat(timespec="seconds"),
    }
    store.write_text(STATE_FILE, json.dumps(doc, indent=2) + "\n")


def save_records(store: ZoneStore, records: pa.Table) -> None:
    """The last run's clusters and passes per record (``RECORDS_FILE``), replaced atomically."""
    store.write_parquet(f"{STATE_DIR}/{RECORDS_FILE}", records)
