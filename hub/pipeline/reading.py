"""Streaming a landed extract out of its sealed file as Arrow record batches of strings."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from hub.agreements.model import Agreement
from hub.errors import ExtractRejectedError
from hub.privacy.keys import Keyring
from hub.privacy.sealed import open_unsealed

BATCH_BYTES = 16 << 20


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


def read_batches(path: Path, keyring: Keyring, agreement: Agreement) -> Iterator[pa.RecordBatch]:
    """Batches of the extract with every column as UTF-8 strings (typing happens in conform),
    each column named as its agreement field (a partner's own column names are renamed)."""
    renamed = agreement.renamed_columns()
    for batch in _source_batches(path, keyring, agreement):
        if not renamed:
            yield batch
            continue
        yield batch.rename_columns([renamed.get(n, n) for n in batch.schema.names])


def _source_batches(path: Path, keyring: Keyring, agreement: Agreement) -> Iterator[pa.RecordBatch]:
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
    read_options = pacsv.ReadOptions(block_size=BATCH_BYTES, encoding="utf8")
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
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise ExtractRejectedError(
                f"agreement {agreement.id}: the CSV file cannot be read ({_reason(exc)})",
                hint="check the row's quoting and column count",
            ) from None
        yield batch  # every column was declared a string


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
