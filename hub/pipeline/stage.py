"""Process one landed extract: read, conform, normalise, pseudonymise, generalise, stage.

Outputs, each written under a temporary name and renamed into place only when complete:

- ``staging/<agreement>/<extract>/data.parquet``: the record number, kept and generalised
  fields. No direct identifier, no token.
- ``linkage/<agreement>/<extract>/tokens.parquet``: the record number and keyed tokens of every
  identifier and composite key. Never published, never readable by analysts. Its schema records
  the pseudonymisation key version of the tokens and each token column's domain, so a key
  rotation can re-key it without raw data (``hub.privacy.rotation``). Beside it,
  ``encodings.parquet``: each distinct forename and surname token with the keyed Bloom filter of
  its name (``hub.privacy.bloom``), for fuzzy matching.

How it goes fast (``bench/pipeline.py`` measures it): the sealed file is streamed in batches of
about 16 MiB of CSV, two at a time; every step runs on each batch's distinct values and is
expanded to rows (``hub.pipeline.distinct``); four threads share the two cores
(``hub.pipeline.overlap``): one decrypts and parses ahead, this one conforms, normalises and
generalises, one hashes the tokens and writes them, one writes the staged data. Memory stays at a
few batches whatever the size of the file.

Running it again for the same extract gives byte-identical files: each batch read is written as
one Parquet row group, in order, whatever the threads and grouping.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from hub.agreements.model import Agreement, FieldSpec, GeneraliseRule, IdentifierType, Treatment
from hub.agreements.registry import AgreementRegistry
from hub.errors import AgreementError, HubError, NotFoundError
from hub.pipeline.conform import conform
from hub.pipeline.distinct import Column
from hub.pipeline.identifiers import (
    composite_column,
    normaliser_for,
    token_column,
    token_domain,
)
from hub.pipeline.overlap import Clock, ReadAhead, WriteBehind
from hub.pipeline.quarantine import sealed_file
from hub.pipeline.reading import read_batch_groups
from hub.pipeline.report import QualityTally
from hub.privacy import bloom, generalise, hmac_batch
from hub.privacy.keys import DataKey, Keyring
from hub.privacy.rotation import PSEUDONYMISATION, composite_domain, token_table
from hub.privacy.tokens import keyed_hash_chain
from hub.settings import Settings
from hub.storage import ZoneFile, ZoneStore, zone_store
from hub.store import Extract, session_scope

if TYPE_CHECKING:  # types only: staging without a validation does not import pandas or GX
    from hub.quality.validate import QualityOutcome, Validation

log = logging.getLogger(__name__)

# The steps ``stage_extract`` times (its ``timings``, in CPU seconds of the thread that ran them):
# decrypt and parse (a reader thread), conform, pseudonymise (normalise here, keyed-hash in the
# tokens writer's thread), generalise, validate (the quality suite, in the writers' threads as
# they write, and its end in this one; 0 without a validation) and stage (Parquet, a writer
# thread per file; "stage_commit" renames the outputs into place).
# Also recorded, in wall-clock seconds: "read_wait" (this thread waiting for the reader),
# "stage_wait" (waiting for the writers to finish) and "total".
STEPS = ("read", "conform", "pseudonymise", "generalise", "validate", "stage")


@dataclass(frozen=True)
class StageResult:
    extract_id: str
    agreement_id: str
    rows: int
    staged_path: ZoneFile
    tokens_path: ZoneFile
    report: dict[str, object]  # the conform and normalise findings (``QualityTally``)
    completeness: dict[str, float] = field(default_factory=dict)  # staged column -> share set
    outcome: QualityOutcome | None = None  # the validation's, when staging validated
    kept: bool = True  # False: a critical validation failure; nothing was written


class _Completeness:
    """Each staged column's share of rows with a value, counted as the tables are written."""

    def __init__(self) -> None:
        self.rows = 0
        self.nulls: dict[str, int] = {}

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name, column in zip(table.column_names, table.columns, strict=True):
            self.nulls[name] = self.nulls.get(name, 0) + column.null_count

    def as_dict(self) -> dict[str, float]:
        if not self.rows:
            return {}
        return {n: round(1 - c / self.rows, 4) for n, c in sorted(self.nulls.items())}


class _BatchProcessor:
    """Turns one batch of strings into a staged batch and a token batch."""

    def __init__(
        self,
        agreement: Agreement,
        keys: list[DataKey],
        encoding_key: DataKey,
        tally: QualityTally,
        settings: Settings,
        today: date,
        clock: Clock | None = None,
    ) -> None:
        self.agreement = agreement
        self.keys = keys  # the pseudonymisation key chain, version 1 to the current one
        self.tally = tally
        self.today = today
        self.clock = clock or Clock(None)
        # The columns the reader hands over dictionary-encoded: all but those dropped and the
        # plain text kept as it is (cheap row by row, and expanding it back costs as much). One
        # whose values hardly repeat is taken out part-way (the reader reads the set per batch).
        self.encoded = {
            f.source_column
            for f in agreement.fields
            if f.treatment is not Treatment.DROP
            and not (f.treatment is Treatment.KEEP and f.identifier is None and f.type == "string")
        }
        self._lsoa: generalise.LsoaLookup | None = None
        self._blooms: dict[IdentifierType, bloom.BloomEncoder] = {}
        self.encoding_key = encoding_key  # the names' Bloom filters (hub.privacy.bloom)
        # filled by the tokens thread
        self.encodings = bloom.NameEncodings(keys[-1].version, encoding_key.version)
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

    def _tally(
        self, name: str, rule: str, failed: pa.Array, column: Column, rows: pa.Array
    ) -> None:
        if pc.any(failed).as_py():  # most rules fail nowhere: nothing to expand or count
            self.tally.add(name, rule, column.expand(failed), rows)

    def process(
        self, batch: pa.RecordBatch, first_row: int
    ) -> tuple[pa.Table, Callable[[Clock], pa.Table]]:
        """The staged table of one batch, and a function that makes its token table (given the
        clock of the thread that calls it)."""
        clock = self.clock
        clock.start()
        rows = pa.array(np.arange(first_row, first_row + batch.num_rows, dtype=np.int64))
        names = set(batch.schema.names)
        columns: dict[str, Column] = {}
        for spec in self.agreement.fields:
            if spec.name not in names or spec.treatment is Treatment.DROP:
                continue
            raw = batch.column(spec.name)
            column = Column.of(raw)
            if column.index is None and pa.types.is_dictionary(raw.type):
                self.encoded.discard(spec.source_column)  # hardly repeats: read it plain
            conformed = conform(spec, column.values)
            for rule, failed in conformed.failures:
                self._tally(spec.name, rule, failed, column, rows)
            columns[spec.name] = Column(conformed.values, column.index)
        clock.lap("conform")
        canonical: dict[IdentifierType, Column] = {}
        for spec in self.agreement.fields:
            if spec.identifier is None or spec.name not in columns:
                continue
            column = columns[spec.name]
            result = normaliser_for(spec.identifier, self.today)(column.values)
            reasons = result.reasons
            for reason in sorted(set(pc.unique(reasons).to_pylist()) - {None, "missing"}):
                rule = f"{spec.identifier.value}:{reason}"
                self._tally(spec.name, rule, pc.equal(reasons, reason), column, rows)
            canonical[spec.identifier] = columns[spec.name] = Column(result.values, column.index)
        for key in self.agreement.linkage_keys:
            self._parts(key.parts, canonical)  # a missing part is refused here, before staging
        clock.lap("pseudonymise")
        staged = {"record": rows}
        for spec in self.agreement.fields:
            name = spec.staged_name
            if name is None or spec.name not in columns:
                continue
            staged[name] = self._staged_value(spec, columns)
        clock.lap("generalise")
        return pa.table(staged), lambda clock: self._tokens(rows, canonical, clock)

    def _tokens(
        self, rows: pa.Array, canonical: dict[IdentifierType, Column], clock: Clock
    ) -> pa.Table:
        """The batch's token table: keyed hashes of each identifier (of its distinct values,
        then expanded to rows) and of each composite linkage key. Runs in the tokens writer's
        thread (the hashing releases the GIL), overlapped with the next batch's normalising; one
        hashing thread, since staging's own threads already keep both cores busy."""
        clock.start()
        tokens = {"record": rows}
        domains: dict[str, str] = {}
        for kind, column in canonical.items():
            name, domain = token_column(kind), token_domain(kind, self.agreement)
            hashed = keyed_hash_chain(column.values, self.keys, domain, threads=1)
            tokens[name] = column.expand(hashed)
            domains[name] = domain
            if kind in BLOOM_KINDS:  # the batch's distinct names, also as Bloom filters
                self.encodings.add(self._bloom(kind), column.values, hashed)
        for key in self.agreement.linkage_keys:
            name, domain = composite_column(key.name), composite_domain(key.parts)
            pieces = [piece.rows() for piece in self._parts(key.parts, canonical)]
            joined = pc.binary_join_element_wise(*pieces, "|")  # null when any part is null
            tokens[name] = keyed_hash_chain(joined, self.keys, domain, threads=1)
            domains[name] = domain
        clock.lap("pseudonymise")
        return token_table(tokens, domains, self.keys[-1].version)

    def _bloom(self, kind: IdentifierType) -> bloom.BloomEncoder:
        """The encoder of one name kind (used by the tokens writer's thread only)."""
        if kind not in self._blooms:
            self._blooms[kind] = bloom.BloomEncoder([self.encoding_key], kind.value)
        return self._blooms[kind]

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

    def _staged_value(self, spec: FieldSpec, columns: dict[str, Column]) -> pa.Array:
        column = columns[spec.name]
        if spec.treatment is Treatment.KEEP:
            return column.rows()
        rule = spec.rule
        if rule in (GeneraliseRule.AGE, GeneraliseRule.AGE_BAND):
            at = columns.get(spec.relative_to or "")
            if at is None:
                raise AgreementError(
                    f"agreement {self.agreement.id}: field {spec.name} needs relative_to naming a "
                    "date field that is sent"
                )
            # Dates as YYYYMMDD numbers, worked out once per distinct date.
            born = column.map(generalise.date_number).rows()
            ages = generalise.age_from_numbers(born, at.map(generalise.date_number).rows())
            return ages if rule is GeneraliseRule.AGE else self._banded(spec, ages)
        if rule is GeneraliseRule.AGE_BAND_FROM_AGE:
            return column.map(lambda v: self._banded(spec, pc.cast(v, pa.int64()))).rows()
        if rule is GeneraliseRule.BIRTH_YEAR:
            return column.map(generalise.birth_year).rows()
        if rule is GeneraliseRule.POSTCODE_DISTRICT:
            return column.map(generalise.postcode_district).rows()
        if rule is GeneraliseRule.LSOA:
            return column.map(self.lsoa()).rows()
        assert rule is not None
        unit = rule.value
        return column.map(lambda v: generalise.truncate_time(v, unit)).rows()

    def _parts(
        self, parts: tuple[str, ...], canonical: dict[IdentifierType, Column]
    ) -> list[Column]:
        """The canonical values of each part of a composite linkage key."""
        pieces = []
        for part in parts:
            if part == "forename_initial":
                source = canonical.get(IdentifierType.FORENAME)
                piece = None if source is None else source.map(_initial)
            elif part == "birth_year":
                source = canonical.get(IdentifierType.DATE_OF_BIRTH)
                piece = None if source is None else source.map(_year_text)
            else:
                piece = canonical.get(IdentifierType(part))
            if piece is None:
                raise AgreementError(
                    f"agreement {self.agreement.id}: linkage key part {part} has no field"
                )
            pieces.append(piece)
        return pieces


def _initial(values: pa.Array) -> pa.Array:
    return pc.utf8_slice_codeunits(values, 0, 1)


def _year_text(values: pa.Array) -> pa.Array:
    return pc.utf8_slice_codeunits(values, 0, 4)


class _AtomicParquet:
    """One Parquet file written batch by batch into a local work folder, then put into its zone
    under ``prefix`` (``hub.storage``: a rename, or an upload) by ``commit``, with any files
    added beside it. A reader of the zone sees each file whole or not at all; the extract is
    recorded as staged, which is what readers go by, only after every file is in place.
    ``abort`` removes the work folder.
    """

    def __init__(
        self,
        store: ZoneStore,
        prefix: str,
        filename: str,
        work_dir: Path,
        options: Callable[[pa.Table], dict[str, Any]] | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.filename = filename
        self.tmp = work_dir / store.zone / f"{prefix.replace('/', '--')}-{uuid.uuid4().hex}"
        self._options = options or (lambda table: {"compression": "zstd"})
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._added: list[str] = []

    @property
    def file(self) -> ZoneFile:
        return ZoneFile(self.store, f"{self.prefix}/{self.filename}")

    def write(self, table: pa.Table) -> None:
        if self._writer is None or self._schema is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp.mkdir(parents=True, mode=0o700)
            self._schema = table.schema  # the first batch fixes the file's schema and options
            self._writer = pq.ParquetWriter(
                self.tmp / self.filename, self._schema, **self._options(table)
            )
        self._writer.write_table(table.cast(self._schema))

    def write_parts(self, table: pa.Table, parts: list[int]) -> None:
        """``table`` as one row group per part (``parts``: their row counts, in order)."""
        start = 0
        for rows in parts:
            self.write(table.slice(start, rows))
            start += rows

    def add_file(self, filename: str, table: pa.Table) -> None:
        """Another Parquet file in the same folder, put into place with it by ``commit``
        (call it after the last ``write``)."""
        if self._writer is None:
            raise ValueError("nothing was written")
        pq.write_table(table, self.tmp / filename, compression="zstd")
        self._added.append(filename)

    def commit(self) -> None:
        if self._writer is None:
            raise ValueError("nothing was written")
        self._writer.close()
        try:
            for name in [*self._added, self.filename]:
                self.store.put_file(f"{self.prefix}/{name}", self.tmp / name)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _staged_options(table: pa.Table) -> dict[str, Any]:
    """Parquet options of ``data.parquet``: zstd, dictionary encoding for every column but the
    record number (unique, so a dictionary would only be built to be dropped)."""
    return {
        "compression": "zstd",
        "use_dictionary": [n for n in table.column_names if n != "record"],
    }


def _tokens_options(table: pa.Table) -> dict[str, Any]:
    """Parquet options of ``tokens.parquet``, from its first table.

    A token column whose values hardly repeat (a record id, the composite keys) is written plain
    and uncompressed: keyed hashes look random, so a dictionary or zstd costs time and saves
    almost nothing. One that repeats (sex, names, dates of birth) keeps dictionary encoding and
    zstd. Token statistics (a row group's smallest and largest hash) mean nothing: only the
    record number's are written. Decided from the first table, so reruns give the same bytes.
    """
    rows = max(table.num_rows, 1)
    dense = {
        n
        for n in table.column_names
        if n != "record" and pc.count_distinct(table.column(n)).as_py() > rows // 2
    }
    return {
        "compression": {n: "none" if n in dense else "zstd" for n in table.column_names},
        "use_dictionary": [n for n in table.column_names if n != "record" and n not in dense],
        "write_statistics": ["record"],
    }


def _set_status(engine: Engine, extract_id: str, status: str, **values: object) -> None:
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None:
            raise NotFoundError(f"no extract {extract_id}")
        record.status = status
        record.updated_at = datetime.now(UTC)
        for name, value in values.items():
            setattr(record, name, value)


Group = tuple[pa.RecordBatch, list[int]]  # a joined batch and the row counts of its parts


def _or_empty(groups: Iterator[Group], agreement: Agreement) -> Iterator[Group]:
    """The extract's batches, or one empty batch for an extract with no rows (so its outputs
    still exist, with the agreement's columns)."""
    empty = True
    for group in groups:
        empty = False
        yield group
    if empty:
        names = list(agreement.received_fields)
        arrays = [pa.array([], pa.string()) for _ in names]
        yield pa.RecordBatch.from_arrays(arrays, names=names), [0]


def _run(
    processor: _BatchProcessor,
    groups: Iterator[Group],
    outputs: tuple[_AtomicParquet, _AtomicParquet],
    clock: Clock,
    validation: Validation | None,
    completeness: _Completeness,
) -> int:
    """Process every batch into ``outputs`` (staged data, tokens), validating each table as it is
    written; returns the number of rows. The outputs are left uncommitted.

    Four threads share the work (``hub.pipeline.overlap``): one reads the next batch (decrypts,
    parses), this one conforms, normalises and generalises, one hashes the tokens and writes and
    checks them, one writes the staged data and validates it. Arrow's kernels, its Parquet writer
    and the keyed-hash kernel release the GIL, so both cores stay busy; the files are the same
    bytes as one thread writes. On any error the threads are stopped, the temporary outputs
    removed and the error raised.
    """
    staged_out, tokens_out = outputs
    writing, hashing = clock.child(), clock.child()

    def write_staged(item: tuple[pa.Table, list[int]]) -> None:
        writing.start()
        staged_out.write_parts(*item)
        completeness.add(item[0])
        writing.lap("stage")
        if validation is not None:
            validation.add_staged(item[0])
            writing.lap("validate")

    def write_tokens(item: tuple[Callable[[Clock], pa.Table], list[int]]) -> None:
        table = item[0](hashing)
        hashing.start()
        tokens_out.write_parts(table, item[1])
        hashing.lap("stage")
        if validation is not None:
            validation.add_tokens(table)
            hashing.lap("validate")

    reader = ReadAhead(groups, depth=QUEUE_DEPTH, name="hub-read")
    writers: list[WriteBehind[Any]] = [
        WriteBehind(write_staged, depth=QUEUE_DEPTH, name="hub-write-staged"),
        WriteBehind(write_tokens, depth=QUEUE_DEPTH, name="hub-write-tokens"),
    ]
    next_row = 1
    try:
        for batch, parts in reader:
            for writer, item in zip(writers, processor.process(batch, next_row), strict=True):
                writer.put((item, parts))
            next_row += batch.num_rows
        waiting = time.perf_counter()
        for writer in writers:
            writer.finish()
        clock.add("stage_wait", time.perf_counter() - waiting)
    except BaseException:
        reader.close()
        for writer in writers:
            writer.cancel()
        for out in outputs:
            out.abort()
        raise
    reader.close()
    clock.merge(writing)
    clock.merge(hashing)
    clock.add("read", reader.busy)
    clock.add("read_wait", reader.waited)
    return next_row - 1


# Name identifiers also encoded as keyed Bloom filters, once per distinct name token
# (``encodings.parquet`` beside the tokens: ``hub.privacy.bloom``).
BLOOM_KINDS = (IdentifierType.FORENAME, IdentifierType.SURNAME)

# Batches read (of about reading.BATCH_BYTES of CSV each) that are joined and computed as one: the
# larger, the more names, dates and codes repeat within it and the less each call costs; each is
# still written as a Parquet row group of its own, so the files do not depend on it.
BATCHES_PER_STEP = 2

# Batches each thread may run ahead of the next (read) or behind (written): enough that a thread
# rarely waits for another, at about 40 MB of memory a batch.
QUEUE_DEPTH = 2

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
    validation: Validation | None = None,
    timings: dict[str, float] | None = None,
) -> StageResult:
    """Run the per-extract steps for one received extract.

    Without ``validation`` the outputs are renamed into place and the extract marked staged.
    With one, each staged and tokens table is validated as it is written and the outputs are
    renamed into place only when no critical expectation failed (``kept``); either way the
    extract stays ``processing`` and the caller records the outcome (``hub.pipeline.process``:
    staged with its report, or quarantined), so no extract is ever staged unvalidated.

    ``timings``, when given, receives the CPU seconds spent in each step (``STEPS``: reading,
    hashing, writing and validating run in threads of their own, overlapped with the rest) and
    the wall-clock ``"total"``; without it nothing is timed.
    """
    started = time.perf_counter()
    today = today or datetime.now(UTC).date()
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None or record.agreement_id != agreement.id:
            raise NotFoundError(f"no extract {extract_id} under agreement {agreement.id}")
        landing = sealed_file(settings, agreement.id, record.landing_path)
        sender = record.sender_org
    decision = AgreementRegistry.open(settings, engine).may_send(
        agreement, sender, today, actor="system:pipeline", step="stage"
    )
    if not decision:
        raise AgreementError(f"extract {extract_id} not processed: {decision.reason}")
    if landing is None:
        raise NotFoundError(
            f"the landed file of extract {extract_id} is gone",
            hint="ask the partner to send the extract again",
        )
    _set_status(engine, extract_id, "processing")
    tally = QualityTally(agreement.id)
    keys = keyring.chain(PSEUDONYMISATION)  # tokens equal older ones re-keyed by rotation
    clock = Clock(timings)
    processor = _BatchProcessor(
        agreement, keys, keyring.current(bloom.ENCODING), tally, settings, today, clock
    )
    hmac_batch.expect(_expected_hashes(agreement, landing.size(), len(keys)), wait=False)
    folder = f"{agreement.id}/{extract_id}"
    outputs = (
        _AtomicParquet(
            zone_store(settings, "staging"), folder, "data.parquet", settings.work_dir,
            _staged_options,
        ),
        _AtomicParquet(
            zone_store(settings, "linkage"), folder, "tokens.parquet", settings.work_dir,
            _tokens_options,
        ),
    )  # fmt: skip
    source = read_batch_groups(
        landing, keyring, agreement, encoded=processor.encoded, group=BATCHES_PER_STEP
    )
    completeness = _Completeness()
    outcome: QualityOutcome | None = None
    try:
        groups = _or_empty(source, agreement)
        rows = _run(processor, groups, outputs, clock, validation, completeness)
        if validation is not None:
            clock.start()
            outcome = validation.finish()
            clock.lap("validate")
        # Quarantined on a critical expectation or a critical field's conform finding.
        kept = outcome is None or not (outcome.critical or tally.critical(agreement))
        clock.start()
        if kept:  # beside the tokens, renamed into place with them
            outputs[1].add_file(bloom.ENCODINGS_FILE, processor.encodings.table())
        for out in outputs:
            out.commit() if kept else out.abort()
        clock.lap("stage_commit")
    except BaseException as exc:
        for out in outputs:
            out.abort()
        if isinstance(exc, HubError):
            _set_status(engine, extract_id, "rejected", report={"error": exc.message})
        raise
    tally.rows = rows
    result = StageResult(
        extract_id,
        agreement.id,
        rows,
        outputs[0].file,
        outputs[1].file,
        tally.as_dict(),
        completeness.as_dict(),
        outcome,
        kept,
    )
    if validation is None:
        mark_staged(settings, engine, result, result.report)
    log.info(
        "staged extract %s: %d rows, %d findings, tokens at pseudonymisation key version %d%s",
        extract_id,
        rows,
        len(tally.findings),
        keys[-1].version,
        "" if kept else " (a critical validation failure: nothing kept)",
    )
    clock.add("total", time.perf_counter() - started)
    return result


def mark_staged(
    settings: Settings, engine: Engine, result: StageResult, report: dict[str, object]
) -> None:
    """Record a kept extract as staged, with its report."""
    _set_status(
        engine,
        result.extract_id,
        "staged",
        rows=result.rows,
        report=report,
        staged_path=str(PurePosixPath(result.staged_path.recorded).parent),
    )
