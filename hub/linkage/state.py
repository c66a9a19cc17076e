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

Each file is written under a temporary name and renamed into place; ``links.parquet`` goes before
``state.json``, so a crash between them leaves extracts marked new that are already linked, and the
next run scores them again to the same links.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hub.errors import IntegrityError
from hub.files import write_parquet_atomically
from hub.privacy.keys import write_private
from hub.settings import Settings

STATE_DIR = "_state"
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


def state_dir(settings: Settings) -> Path:
    return settings.zone("linkage") / STATE_DIR


def save_model(settings: Settings, model: Model) -> Path:
    path = state_dir(settings) / "models" / f"model-{model.version:04d}.json"
    doc = {
        "format": MODEL_FORMAT,
        "version": model.version,
        "trained_at": model.trained_at,
        "settings_digest": model.digest,
        "records": model.records,
        "profiles": model.profiles,
        "splink": model.splink,
    }
    write_private(path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")
    return path


def next_model_version(settings: Settings) -> int:
    folder = state_dir(settings) / "models"
    found = [int(p.stem.removeprefix("model-")) for p in folder.glob("model-[0-9]*.json")]
    return max(found, default=0) + 1


def load_model(settings: Settings, version: int) -> Model | None:
    path = state_dir(settings) / "models" / f"model-{version:04d}.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
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
            f"the linkage model {path} is damaged",
            hint="delete it and run the one-picture DAG again with a full relink "
            "(`hub publish --full-relink`)",
        ) from None


def load_state(settings: Settings) -> LinkState | None:
    """The state the last run left, or None (first run, or its files are gone)."""
    folder = state_dir(settings)
    state_file, links_file = folder / "state.json", folder / "links.parquet"
    if not state_file.is_file() or not links_file.is_file():
        return None
    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
        at = datetime.fromisoformat(doc["full_relink_at"])
        return LinkState(
            model_version=int(doc["model_version"]),
            threshold=float(doc["threshold"]),
            linked_extracts=frozenset(str(e) for e in doc["linked_extracts"]),
            full_relink_at=at if at.tzinfo else at.replace(tzinfo=UTC),
            links=pq.read_table(links_file).cast(LINKS_SCHEMA),
        )
    except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        raise IntegrityError(
            f"the linkage state in {folder} is damaged",
            hint="run the one-picture DAG again with a full relink (`hub publish --full-relink`)",
        ) from None


def save_state(settings: Settings, state: LinkState) -> None:
    folder = state_dir(settings)
    links = state.links.cast(LINKS_SCHEMA).sort_by(
        [(name, "ascending") for name in LINKS_SCHEMA.names[:6]]
    )
    write_parquet_atomically(folder / "links.parquet", links, compression="zstd")
    doc = {
        "model_version": state.model_version,
        "threshold": state.threshold,
        "linked_extracts": sorted(state.linked_extracts),
        "full_relink_at": state.full_relink_at.isoformat(timespec="seconds"),
    }
    write_private(folder / "state.json", json.dumps(doc, indent=2).encode() + b"\n")


def save_records(settings: Settings, records: pa.Table) -> None:
    """The last run's clusters and passes per record (``RECORDS_FILE``), replaced atomically."""
    write_parquet_atomically(state_dir(settings) / RECORDS_FILE, records, compression="zstd")
