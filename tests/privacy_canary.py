"""The privacy canary: search hub outputs for the synthetic population's raw identifiers, and
for key material.

Identifiers: Parquet files are compared cell by cell (every column as text); every other file
(logs, JSON, SQLite) is searched as text with word boundaries. Ground truth comes from the
generator's ``ground_truth/people.parquet``, which the hub itself never reads.

Keys (``load_key_material`` + ``scan_for_keys``): the master key, every version of every data key,
the domain subkeys of every token domain under every pseudonymisation key version, the keys
derived from every release key version for every published release and every longitudinal
project (and their ``person`` subkeys), and the data encryption key of every sealed landing
file. Each is searched for as raw bytes, Python bytes repr, hex (any case) and base64 (standard
and URL-safe alphabets, at all three alignments, so a key inside a longer base64 blob is found
too) in the raw bytes of every file, and also in the decoded cells and metadata of Parquet files
(whose pages are compressed). Findings name the file and which key in which form, never the key.
Not searched: data inside other compressed containers (Airflow stores serialised DAGs zlib-ed).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from hub.privacy.keys import DataKey, Keyring
    from hub.settings import Settings


_RUN = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class Identifiers:
    exact: frozenset[str]  # values that must not appear as a cell anywhere
    words: frozenset[str]  # values that must not appear in text between word boundaries
    longest: int  # characters in the longest of ``words``

    def in_text(self, text: str) -> bool:
        """Whether any of ``words`` occurs in ``text`` (upper case) with no letter or digit just
        before or after it: the same as searching for each word between ``(?<![A-Z0-9])`` and
        ``(?![A-Z0-9])``, in one pass over the text. A match starts where a run of letters and
        digits starts and ends where one ends, so every such span up to the longest word's length
        is looked up; a word that starts or ends with another character is searched as it is."""
        runs = [(m.start(), m.end()) for m in _RUN.finditer(text)]
        words, longest = self.words, self.longest
        for i, (start, _) in enumerate(runs):
            for j in range(i, len(runs)):
                end = runs[j][1]
                if end - start > longest:
                    break
                if text[start:end] in words:
                    return True
        odd = [w for w in words if not (_RUN.match(w[0]) and _RUN.match(w[-1]))]
        if not odd:
            return False
        alternatives = "|".join(re.escape(w) for w in odd)
        return re.search(rf"(?<![A-Z0-9])(?:{alternatives})(?![A-Z0-9])", text) is not None


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
    words.discard("")
    return Identifiers(frozenset(exact), frozenset(words), max(map(len, words), default=0))


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
            if ids.in_text(text):
                found.append(f"{path}: identifier text")
    return found


# --- key material -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needle:
    name: str  # which key, in which form; never the key itself
    pattern: bytes
    folded: bool  # searched in the lower-cased haystack (hex of any case)


@dataclass(frozen=True)
class KeyMaterial:
    needles: tuple[Needle, ...]
    names: tuple[str, ...]  # every key the material covers

    def find(self, blobs: Iterable[bytes]) -> list[str]:
        """Names of the needles found in any of ``blobs``, each once, in a stable order."""
        hits: dict[str, None] = {}
        for blob in blobs:
            folded = blob.lower()
            for needle in self.needles:
                if needle.name not in hits and needle.pattern in (
                    folded if needle.folded else blob
                ):
                    hits[needle.name] = None
        return list(hits)


def _base64_forms(secret: bytes) -> set[bytes]:
    """The base64 characters that depend on ``secret`` alone, at each of the three byte
    alignments it can have inside a longer encoded buffer, in both alphabets."""
    forms: set[bytes] = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + secret)
        first = -(-shift // 3)  # the first 3-byte group holding only secret bytes
        last = (shift + len(secret)) // 3  # one past the last such group
        core = encoded[4 * first : 4 * last]
        forms.update({core, core.translate(bytes.maketrans(b"+/", b"-_"))})
    return forms


def key_needles(name: str, secret: bytes) -> list[Needle]:
    """Every form of one key the canary searches for."""
    needles = [
        Needle(f"{name} as raw bytes", secret, folded=False),
        Needle(f"{name} as bytes repr", repr(secret)[2:-1].encode(), folded=False),
        Needle(f"{name} as hex", secret.hex().encode(), folded=True),
    ]
    needles += [Needle(f"{name} as base64", form, folded=False) for form in _base64_forms(secret)]
    return needles


def _master_key_bytes(settings: Settings) -> bytes:
    if settings.master_key is not None:
        text = settings.master_key.get_secret_value()
    else:
        text = master_key_path(settings).read_text(encoding="ascii")
    return base64.b64decode(text.strip())


def master_key_path(settings: Settings) -> Path:
    """The file the master key is kept in (the one place it may be; the scan skips it)."""
    return settings.master_key_file or settings.dev_master_key_file


def _token_domains(settings: Settings) -> set[str]:
    from hub.agreements.loader import load_agreements_leniently
    from hub.agreements.model import IdentifierType
    from hub.pipeline.identifiers import token_domain
    from hub.privacy.rotation import DOMAIN_META, composite_domain, token_files
    from hub.storage import zone_store

    agreements, _ = load_agreements_leniently(settings.contracts_dir)
    domains = {kind.value for kind in IdentifierType}
    for agreement in agreements.values():
        domains.update(token_domain(kind, agreement) for kind in IdentifierType)
        domains.update(composite_domain(k.parts) for k in agreement.linkage_keys)
    linkage = zone_store(settings, "linkage")
    for path in token_files(linkage):
        for field in linkage.read_schema(path):
            if field.metadata and DOMAIN_META in field.metadata:
                domains.add(field.metadata[DOMAIN_META].decode())
    return domains


def _landing_deks(settings: Settings, keyring: Keyring) -> list[tuple[str, bytes]]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from hub.privacy.sealed import MAGIC

    deks = []
    for path in sorted(settings.zone("landing").rglob("*.sealed")):
        with path.open("rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                continue
            header = json.loads(fh.read(int.from_bytes(fh.read(4), "big")))
        kek = keyring.get("landing", int(header["kek_version"]))
        wrapped = base64.b64decode(header["wrapped_dek"])
        dek = AESGCM(kek.secret).decrypt(wrapped[:12], wrapped[12:], header["context"].encode())
        deks.append((f"data encryption key of {path.name}", dek))
    return deks


def _release_keys(settings: Settings, keyring: Keyring) -> list[tuple[str, bytes]]:
    """Keys derived from every release key version: per published release and per longitudinal
    project, each with its ``person`` subkey (the hub's own derivations, so they stay in step)."""
    from hub.agreements.loader import load_agreements_leniently
    from hub.privacy.keys import Keyring, master_key_from_settings
    from hub.privacy.tokens import domain_subkey
    from hub.publication.pseudonyms import PERSON_DOMAIN, project_key, release_key

    published = settings.zone("published")
    releases = [p.name for p in sorted(published.glob("rel-*")) if p.is_dir()]
    agreements, _ = load_agreements_leniently(settings.contracts_dir)
    projects = sorted({p.name for a in agreements.values() for p in a.longitudinal_projects})
    master = master_key_from_settings(settings)
    derived: list[DataKey] = []
    for version in keyring.versions("release"):
        # A keyring holding only this version: releases made before a rotation used it.
        view = Keyring(keyring.path, master, [keyring.get("release", version)])
        derived += [release_key(view, release_id) for release_id in releases]
        derived += [project_key(keyring, name, release_version=version) for name in projects]
    secrets = []
    for key in derived:
        secrets += [
            (f"{key.label} key", key.secret),
            (f"{key.label} subkey {PERSON_DOMAIN}", domain_subkey(key, PERSON_DOMAIN)),
        ]
    return secrets


def load_key_material(settings: Settings) -> KeyMaterial:
    """Every key the installation holds or derives, as needles for ``scan_for_keys``."""
    from hub.privacy.keys import PURPOSES, open_keyring
    from hub.privacy.tokens import domain_subkey

    keyring = open_keyring(settings)
    secrets: list[tuple[str, bytes]] = [("master key", _master_key_bytes(settings))]
    for purpose in PURPOSES:
        for version in keyring.versions(purpose):
            key = keyring.get(purpose, version)
            secrets.append((f"data key {key.label}", key.secret))
    domains = sorted(_token_domains(settings))
    for version in keyring.versions("pseudonymisation"):
        key = keyring.get("pseudonymisation", version)
        secrets += [(f"{key.label} subkey {d}", domain_subkey(key, d)) for d in domains]
    secrets += _release_keys(settings, keyring)
    secrets += _landing_deks(settings, keyring)
    needles = [n for name, secret in secrets for n in key_needles(name, secret)]
    return KeyMaterial(tuple(needles), tuple(name for name, _ in secrets))


def _parquet_decoded(path: Path) -> bytes:
    """A Parquet file's metadata and every cell, decoded (its pages are compressed on disk)."""
    try:
        parquet = pq.ParquetFile(path)
        table = parquet.read()
    except (OSError, pa.ArrowException):
        return b""  # not readable as Parquet: its raw bytes are still searched
    parts: list[bytes] = []
    for metadata in (parquet.metadata.metadata, table.schema.metadata):
        for k, v in (metadata or {}).items():
            parts += [k, v]
    for field in table.schema:
        parts.append(field.name.encode())
        for k, v in (field.metadata or {}).items():
            parts += [k, v]
    for column in table.columns:
        flat = column.combine_chunks()
        while pa.types.is_list(flat.type) or pa.types.is_large_list(flat.type):
            flat = flat.flatten()
        if pa.types.is_dictionary(flat.type):
            flat = flat.dictionary_decode()
        if not (pa.types.is_binary(flat.type) or pa.types.is_fixed_size_binary(flat.type)):
            flat = pc.cast(flat, pa.string())
        for value in flat.to_pylist():
            if value is not None:
                parts.append(value.encode() if isinstance(value, str) else bytes(value))
    return b"\n".join(parts)


def scan_for_keys(
    paths: Sequence[Path], material: KeyMaterial, *, exclude: Sequence[Path] = ()
) -> list[str]:
    """Every place key material was found, as 'file: which key as which form' (never the key).
    Files in ``exclude`` (the master key file) are skipped."""
    skip = {p.resolve() for p in exclude}
    found: list[str] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.resolve() in skip:
                continue
            blobs = [path.read_bytes()]
            if path.suffix == ".parquet":
                blobs.append(_parquet_decoded(path))
            found += [f"{path}: {name}" for name in material.find(blobs)]
    return found
