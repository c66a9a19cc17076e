"""The privacy canary: search hub outputs for the synthetic population's raw identifiers.

Parquet files are compared cell by cell (every column as text); every other file (logs, JSON,
SQLite) is searched as text with word boundaries. Ground truth comes from the generator's
``ground_truth/people.parquet``, which the hub itself never reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Identifiers:
    exact: frozenset[str]  # values that must not appear as a cell anywhere
    patterns: tuple[re.Pattern[str], ...]  # patterns that must not match text files


def _dob_forms(iso: str) -> list[str]:
    d = date.fromisoformat(iso)
    return [iso, d.strftime("%d/%m/%Y"), d.strftime("%d-%m-%Y"), d.strftime("%Y%m%d")]


def load_identifiers(people_parquet: Path, secrets: Sequence[bytes] = ()) -> Identifiers:
    people = pq.read_table(people_parquet).to_pylist()
    exact: set[str] = set()
    words: set[str] = set()
    for p in people:
        if p.get("nhs_number"):
            exact.add(p["nhs_number"])
            words.add(p["nhs_number"])
        for key in ("upn", "pnc_id"):
            if p.get(key):
                exact.add(p[key].upper())
                words.add(p[key].upper())
        forename, surname = p["forename"].upper(), p["surname"].upper()
        exact.update({forename + " " + surname, surname})
        if len(surname) >= 6:
            words.add(surname)
        words.add(f"{forename} {surname}")
        for form in _dob_forms(p["date_of_birth"]):
            exact.add(form)
            words.add(form)
        for postcode in p.get("postcodes") or []:
            exact.add(postcode.upper())
            exact.add(postcode.upper().replace(" ", ""))
            words.add(postcode.upper())
    for secret in secrets:
        words.update({secret.hex().upper()})
    chunks = sorted(words)
    patterns = tuple(
        re.compile(
            r"(?<![A-Z0-9])(?:"
            + "|".join(re.escape(w) for w in chunks[i : i + 2000])
            + r")(?![A-Z0-9])"
        )
        for i in range(0, len(chunks), 2000)
    )
    return Identifiers(frozenset(exact), patterns)


def _parquet_cells(path: Path) -> set[str]:
    table = pq.read_table(path)
    cells: set[str] = set()
    for column in table.columns:
        flat = column.combine_chunks()
        while pa.types.is_list(flat.type) or pa.types.is_large_list(flat.type):
            flat = flat.flatten()
        if pa.types.is_fixed_size_binary(flat.type) or pa.types.is_binary(flat.type):
            continue  # tokens: 32 random-looking bytes, checked by the token tests
        text = pc.utf8_upper(pc.cast(flat, pa.string()))
        cells.update(v for v in pc.unique(text).to_pylist() if v is not None)
    return cells


def scan(paths: list[Path], ids: Identifiers) -> list[str]:
    """Every place an identifier was found, as 'file: kind' (never the identifier itself)."""
    found: list[str] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.suffix == ".parquet":
                if _parquet_cells(path) & ids.exact:
                    found.append(f"{path}: identifier cell")
                continue
            text = path.read_bytes().decode("utf-8", errors="replace").upper()
            if any(p.search(text) for p in ids.patterns):
                found.append(f"{path}: identifier text")
    return found
