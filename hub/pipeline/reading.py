"""Streaming a landed extract out of its sealed file as Arrow record batches of strings."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Collection, Generator, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from hub.agreements.model import Agreement
from hub.errors import ExtractRejectedError
from hub.privacy.keys import Keyring
from hub.privacy.sealed import SealedSource, open_unsealed

# Rows are handed on in batches of about BATCH_BYTES of CSV: large enough that names, dates and
# codes repeat within a batch (staging works them out once per distinct value), small enough to
# keep memory flat. The CSV reader reads READ_BYTES at a time and reads about 35 blocks ahead of
# the rows it has parsed, so its block is smaller and BATCH_BYTES // READ_BYTES blocks make a
# batch; the batch boundaries are the same as with BATCH_BYTES blocks (the last line break before
# each multiple of BATCH_BYTES).
BATCH_BYTES = 16 << 20
READ_BYTES = 4 << 20
# A column read "encoded" is a dictionary array: the batch's distinct values once, and per row
# the position of its value (null rows have a null position).
ENCODED = pa.dictionary(pa.int32(), pa.string())


def _check_columns(agreement: Agreement, columns: list[str]) -> None:
    """Refuse unexpected columns and missing required ones, naming them (never their values)."""
    expected = set(agreement.received_columns)
    unexpected = [c for c in columns if c not in expected]
    missing = [c for c in agreement.required_columns if c not in columns]
    problems = []
    if unexpected:
        problems.append(
            f"unexpected column(s) {', '.join(unexpected)}: the agreement does not list them"
        )
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    if problems:
        raise ExtractRejectedError(
            f"agreement {agreement.id} v{agreement.version}: " + "; ".join(problems),
            hint="send exactly the columns the agreement lists (`hub agreement show "
            f"{agreement.id}`)",
        )


def read_batches(
    path: SealedSource, keyring: Keyring, agreement: Agreement, *, encoded: Collection[str] = ()
) -> Iterator[pa.RecordBatch]:
    """Batches of the extract with every column as UTF-8 strings (typing happens in conform),
    each column named as its agreement field (a partner's own column names are renamed).

    Columns named in ``encoded`` (as the partner's file names them) come dictionary-encoded per
    batch (``ENCODED``): the same strings, each distinct one held once. ``encoded`` is read again
    for every batch, so a caller may drop a column from it part-way (one whose values hardly
    repeat).
    """
    for batch, _ in read_batch_groups(path, keyring, agreement, encoded=encoded):
        yield batch


def read_batch_groups(
    path: SealedSource,
    keyring: Keyring,
    agreement: Agreement,
    *,
    encoded: Collection[str] = (),
    group: int = 1,
) -> Iterator[tuple[pa.RecordBatch, list[int]]]:
    """``read_batches``, ``group`` batches at a time joined into one (encoded once, so values
    repeat more within it), each with the row counts of the batches it joins: staging computes
    on the joined batch and writes one Parquet row group per batch, as if read one by one."""
    renamed = agreement.renamed_columns()
    pending: list[pa.RecordBatch] = []
    with contextlib.closing(_source_batches(path, keyring, agreement)) as raw_batches:
        while True:
            raw = next(raw_batches, None)
            if raw is not None:
                pending.append(raw)
                if len(pending) < group:
                    continue
            if not pending:
                return
            batch = _encode(_joined(pending), frozenset(encoded))
            if renamed:
                batch = batch.rename_columns([renamed.get(n, n) for n in batch.schema.names])
            yield batch, [b.num_rows for b in pending]
            pending = []
            if raw is None:
                return


def _source_batches(
    path: SealedSource, keyring: Keyring, agreement: Agreement
) -> Generator[pa.RecordBatch, None, None]:
    fmt = agreement.delivery.format
    stream = open_unsealed(path, keyring)
    try:
        if fmt == "csv":
            yield from _csv_batches(stream, agreement)
        elif fmt == "ndjson":
            table = pajson.read_json(stream)
            _check_columns(agreement, table.column_names)
            for batch in table.to_batches(max_chunksize=65536):
                yield _as_strings(batch)
        else:
            # Parquet needs random access; the plaintext is held in memory only, never on disk.
            parquet = pq.ParquetFile(io.BytesIO(stream.read()))
            _check_columns(agreement, parquet.schema_arrow.names)
            for batch in parquet.iter_batches(batch_size=65536):
                yield _as_strings(batch)
    finally:
        stream.close()


def _csv_batches(stream: BinaryIO, agreement: Agreement) -> Iterator[pa.RecordBatch]:
    # One thread: staging reads in a thread of its own, beside the threads that compute and write.
    block = min(READ_BYTES, BATCH_BYTES)
    read_options = pacsv.ReadOptions(block_size=block, encoding="utf8", use_threads=False)
    # Read the header first so every column can be declared a string (no type guessing).
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=read_options,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in agreement.received_columns},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ExtractRejectedError(
            f"agreement {agreement.id}: the CSV file cannot be read ({_reason(exc)})",
            hint="send UTF-8 CSV with a header row and comma separators",
        ) from None
    _check_columns(agreement, reader.schema.names)
    blocks = max(1, BATCH_BYTES // block)
    pending: list[pa.RecordBatch] = []
    while True:
        try:
            pending.append(reader.read_next_batch())  # every column was declared a string
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise ExtractRejectedError(
                f"agreement {agreement.id}: the CSV file cannot be read ({_reason(exc)})",
                hint="check the row's quoting and column count",
            ) from None
        if len(pending) == blocks:
            yield _joined(pending)
            pending = []
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of the rows of ``batches``, in order, each column in one piece."""
    if len(batches) == 1:
        return batches[0]
    columns = [
        pa.concat_arrays([b.column(i) for b in batches]) for i in range(batches[0].num_columns)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batches[0].schema.names)


def _reason(exc: Exception) -> str:
    """Arrow's parse errors quote the offending row; keep only the row-free part."""
    text = str(exc).split(":")[0]
    return text[:120]


def _as_strings(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every column as strings: typed Parquet columns (dates, booleans) become their ISO text."""
    if all(pa.types.is_string(t) for t in batch.schema.types):
        return batch
    columns = [c if pa.types.is_string(c.type) else c.cast(pa.string()) for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _encode(batch: pa.RecordBatch, encoded: frozenset[str]) -> pa.RecordBatch:
    """The columns named in ``encoded`` dictionary-encoded, nulls as null positions."""
    if not encoded.intersection(batch.schema.names):
        return batch
    columns = [
        c.dictionary_encode() if name in encoded and pa.types.is_string(c.type) else c
        for name, c in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
