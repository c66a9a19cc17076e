"""Process one landed extract: read, conform, normalise, pseudonymise, generalise, stage.

Outputs, each written under a temporary name and renamed into place only when complete:

- ``staging/<agreement>/<extract>/data.parquet``: the record number, kept and generalised
  fields. No direct identifier, no token.
- ``linkage/<agreement>/<extract>/tokens.parquet``: the record number and keyed tokens of every
  identifier and composite key. Never published, never readable by analysts. Its schema records
  the pseudonymisation key version of the tokens and each token column's domain, so a key
  rotation can re-key it without raw data (``hub.privacy.rotation``).

Running it again for the same extract gives byte-identical files.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from hub.agreements.model import Agreement, FieldSpec, GeneraliseRule, IdentifierType, Treatment
from hub.agreements.registry import AgreementRegistry
from hub.errors import AgreementError, HubError, NotFoundError
from hub.pipeline.conform import cast_field
from hub.pipeline.identifiers import (
    composite_column,
    normaliser_for,
    token_column,
    token_domain,
)
from hub.pipeline.reading import read_batches
from hub.pipeline.report import QualityTally
from hub.privacy import generalise, hmac_batch
from hub.privacy.keys import DataKey, Keyring
from hub.privacy.rotation import PSEUDONYMISATION, composite_domain, token_table
from hub.privacy.tokens import keyed_hash_chain
from hub.settings import Settings
from hub.store import Extract, session_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageResult:
    extract_id: str
    agreement_id: str
    rows: int
    staged_path: Path
    tokens_path: Path
    report: dict[str, object]


class _BatchProcessor:
    """Turns one batch of strings into a staged batch and a token batch."""

    def __init__(
        self,
        agreement: Agreement,
        keys: list[DataKey],
        tally: QualityTally,
        settings: Settings,
        today: date,
    ) -> None:
        self.agreement = agreement
        self.keys = keys  # the pseudonymisation key chain, version 1 to the current one
        self.tally = tally
        self.today = today
        self._lsoa: generalise.LsoaLookup | None = None
        self._settings = settings

    def lsoa(self) -> generalise.LsoaLookup:
        if self._lsoa is None:
            path = self._settings.reference_dir / "postcode_lsoa.csv"
            if not path.exists():
                raise NotFoundError(
                    f"agreement {self.agreement.id} generalises postcodes to LSOA but the "
                    f"reference lookup {path} is missing",
                    hint="install the partnership's postcode to LSOA lookup there",
                )
            self._lsoa = generalise.LsoaLookup(path)
        return self._lsoa

    def process(self, batch: pa.RecordBatch, first_row: int) -> tuple[pa.Table, pa.Table]:
        rows = pa.array(range(first_row, first_row + batch.num_rows), pa.int64())
        typed: dict[str, pa.Array] = {}
        canonical: dict[IdentifierType, pa.Array] = {}
        for spec in self.agreement.fields:
            if spec.name not in batch.schema.names:
                continue
            raw = batch.column(spec.name)
            if spec.treatment is Treatment.DROP:
                continue
            typed[spec.name] = cast_field(spec, raw, rows, self.tally)
            if spec.identifier is not None:
                result = normaliser_for(spec.identifier, self.today)(typed[spec.name])
                reasons = result.reasons
                for reason in set(pc.unique(reasons).to_pylist()) - {None, "missing"}:
                    self.tally.add(
                        spec.name,
                        f"{spec.identifier.value}:{reason}",
                        pc.equal(reasons, reason),
                        rows,
                    )
                canonical[spec.identifier] = result.values
                typed[spec.name] = result.values
        staged = {"record": rows}
        for spec in self.agreement.fields:
            name = spec.staged_name
            if name is None or spec.name not in typed:
                continue
            staged[name] = self._staged_value(spec, typed)
        tokens = {"record": rows}
        domains: dict[str, str] = {}
        for kind, values in canonical.items():
            name, domain = token_column(kind), token_domain(kind, self.agreement)
            tokens[name], domains[name] = keyed_hash_chain(values, self.keys, domain), domain
        for key in self.agreement.linkage_keys:
            name, domain = composite_column(key.name), composite_domain(key.parts)
            tokens[name], domains[name] = self._composite(key.parts, canonical, domain), domain
        return pa.table(staged), token_table(tokens, domains, self.keys[-1].version)

    def _banded(self, spec: FieldSpec, ages: pa.Array) -> pa.Array:
        """Ages in the agreement's bands for this field (the partnership's when unset)."""
        try:
            bands = generalise.bands_from_lower_bounds(spec.age_bands)
        except ValueError as exc:
            raise AgreementError(
                f"agreement {self.agreement.id}: field {spec.name}: {exc}",
                hint="run `hub agreement lint` on the agreement file",
            ) from None
        return generalise.age_band(ages, bands)

    def _staged_value(self, spec: FieldSpec, typed: dict[str, pa.Array]) -> pa.Array:
        values = typed[spec.name]
        if spec.treatment is Treatment.KEEP:
            return values
        rule = spec.rule
        if rule in (GeneraliseRule.AGE, GeneraliseRule.AGE_BAND):
            at = typed.get(spec.relative_to or "")
            if at is None:
                raise AgreementError(
                    f"agreement {self.agreement.id}: field {spec.name} needs relative_to naming a "
                    "date field that is sent"
                )
            ages = generalise.age_at(values, at)
            return ages if rule is GeneraliseRule.AGE else self._banded(spec, ages)
        if rule is GeneraliseRule.AGE_BAND_FROM_AGE:
            return self._banded(spec, pc.cast(values, pa.int64()))
        if rule is GeneraliseRule.BIRTH_YEAR:
            return generalise.birth_year(values)
        if rule is GeneraliseRule.POSTCODE_DISTRICT:
            return generalise.postcode_district(values)
        if rule is GeneraliseRule.LSOA:
            return self.lsoa()(values)
        assert rule is not None
        return generalise.truncate_time(values, rule.value)

    def _composite(
        self, parts: tuple[str, ...], canonical: dict[IdentifierType, pa.Array], domain: str
    ) -> pa.Array:
        pieces = []
        for part in parts:
            if part == "forename_initial":
                source = canonical.get(IdentifierType.FORENAME)
                piece = None if source is None else pc.utf8_slice_codeunits(source, 0, 1)
            elif part == "birth_year":
                source = canonical.get(IdentifierType.DATE_OF_BIRTH)
                piece = None if source is None else pc.utf8_slice_codeunits(source, 0, 4)
            else:
                piece = canonical.get(IdentifierType(part))
            if piece is None:
                raise AgreementError(
                    f"agreement {self.agreement.id}: linkage key part {part} has no field"
                )
            pieces.append(piece)
        joined = pc.binary_join_element_wise(*pieces, "|")  # null when any part is null
        return keyed_hash_chain(joined, self.keys, domain)


class _AtomicParquet:
    """One Parquet file written batch by batch into a temporary folder beside ``final_dir``.

    ``commit`` renames the folder into place, so a reader sees the old complete output or the
    new complete output, never a partial one; ``abort`` removes the temporary folder.
    """

    def __init__(self, final_dir: Path, filename: str) -> None:
        self.final_dir = final_dir
        self.filename = filename
        self.tmp = final_dir.parent / f".tmp-{final_dir.name}"
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None or self._schema is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp.mkdir(parents=True, mode=0o700)
            self._schema = table.schema  # the first batch fixes the file's schema
            self._writer = pq.ParquetWriter(
                self.tmp / self.filename, self._schema, compression="zstd"
            )
        self._writer.write_table(table.cast(self._schema))

    def commit(self) -> None:
        if self._writer is None:
            raise ValueError("nothing was written")
        self._writer.close()
        old = self.final_dir.parent / f".old-{self.final_dir.name}"
        shutil.rmtree(old, ignore_errors=True)
        if self.final_dir.exists():
            self.final_dir.replace(old)
        self.tmp.replace(self.final_dir)
        shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _set_status(engine: Engine, extract_id: str, status: str, **values: object) -> None:
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None:
            raise NotFoundError(f"no extract {extract_id}")
        record.status = status
        record.updated_at = datetime.now(UTC)
        for name, value in values.items():
            setattr(record, name, value)


def _or_empty(batches: Iterator[pa.RecordBatch], agreement: Agreement) -> Iterator[pa.RecordBatch]:
    """The extract's batches, or one empty batch for an extract with no rows (so its outputs
    still exist, with the agreement's columns)."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        names = list(agreement.received_fields)
        yield pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in names], names=names)


BYTES_PER_ROW_GUESS = 200  # a partner row as sent: tells a large extract from a small one


def _expected_hashes(agreement: Agreement, size: int, versions: int) -> int:
    """About how many keyed hashes staging this extract takes (rows times token columns times
    key versions), from the landed file's size."""
    identifiers = sum(1 for f in agreement.fields if f.identifier is not None)
    return size // BYTES_PER_ROW_GUESS * (identifiers + len(agreement.linkage_keys)) * versions


def stage_extract(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    agreement: Agreement,
    extract_id: str,
    *,
    today: date | None = None,
) -> StageResult:
    """Run the per-extract steps for one received extract and mark it staged."""
    today = today or datetime.now(UTC).date()
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None or record.agreement_id != agreement.id:
            raise NotFoundError(f"no extract {extract_id} under agreement {agreement.id}")
        landing = settings.data_dir / (record.landing_path or "")
        sender = record.sender_org
    decision = AgreementRegistry.open(settings, engine).may_send(
        agreement, sender, today, actor="system:pipeline", step="stage"
    )
    if not decision:
        raise AgreementError(f"extract {extract_id} not processed: {decision.reason}")
    if not landing.is_file():
        raise NotFoundError(
            f"the landed file of extract {extract_id} is gone",
            hint="ask the partner to send the extract again",
        )
    _set_status(engine, extract_id, "processing")
    tally = QualityTally(agreement.id)
    keys = keyring.chain(PSEUDONYMISATION)  # tokens equal older ones re-keyed by rotation
    processor = _BatchProcessor(agreement, keys, tally, settings, today)
    hmac_batch.expect(_expected_hashes(agreement, landing.stat().st_size, len(keys)))
    stage_dir = settings.zone("staging") / agreement.id / extract_id
    link_dir = settings.zone("linkage") / agreement.id / extract_id
    outputs = (
        _AtomicParquet(stage_dir, "data.parquet"),
        _AtomicParquet(link_dir, "tokens.parquet"),
    )
    next_row = 1
    try:
        for batch in _or_empty(read_batches(landing, keyring, agreement), agreement):
            for out, table in zip(outputs, processor.process(batch, next_row), strict=True):
                out.write(table)
            next_row += batch.num_rows
    except BaseException as exc:
        for out in outputs:
            out.abort()
        if isinstance(exc, HubError):
            _set_status(engine, extract_id, "rejected", report={"error": exc.message})
        raise
    for out in outputs:
        out.commit()
    tally.rows = next_row - 1
    report = tally.as_dict()
    _set_status(
        engine,
        extract_id,
        "staged",
        rows=tally.rows,
        report=report,
        staged_path=str(stage_dir.relative_to(settings.data_dir)),
    )
    log.info(
        "staged extract %s: %d rows, %d findings, tokens at pseudonymisation key version %d",
        extract_id,
        tally.rows,
        len(tally.findings),
        keys[-1].version,
    )
    return StageResult(
        extract_id,
        agreement.id,
        tally.rows,
        stage_dir / "data.parquet",
        link_dir / "tokens.parquet",
        report,
    )
