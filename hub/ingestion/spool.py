"""Checking an upload while it streams into its sealed landing file: size, UTF-8, the header.

The body arrives in chunks and goes straight to a ``SealWriter`` (``hub.privacy.sealed``): it is
encrypted before it touches the disk and nothing holds the whole file in memory. The header (the
first line of a CSV, the keys of the first NDJSON object) is checked against the agreement as soon
as it has arrived, so a wrong feed is refused before the rest is read. Parquet keeps its schema in
a footer at the end of the file: the last bytes are kept in memory (at most ``MAX_FOOTER_BYTES``)
and the footer is checked once the file is complete.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Final, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from hub.agreements.model import Agreement
from hub.ingestion.problems import ProblemError

BOM: Final = b"\xef\xbb\xbf"
MAX_HEADER_BYTES: Final = 1 << 20
MAX_FOOTER_BYTES: Final = 8 << 20
PARQUET_MAGIC: Final = b"PAR1"
# a column name a refusal may quote: short, starting with a letter, no digits-only or date shapes
COLUMN_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_ .()/-]{0,63}")


class Sink(Protocol):
    def write(self, data: bytes, /) -> None: ...


@dataclass
class Spool:
    """One upload being written to ``out``; call ``feed`` per chunk, then ``finish``."""

    agreement: Agreement
    fmt: str  # csv, ndjson or parquet
    out: Sink
    max_bytes: int
    size: int = 0
    lines: int = 0
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=codecs.getincrementaldecoder("utf-8")
    )
    _head: bytearray | None = field(default_factory=bytearray)  # None once checked
    _last: int = -1  # the last byte received
    _tail: bytearray = field(default_factory=bytearray)  # Parquet: the last bytes, for the footer
    rows_estimate: int | None = None

    @property
    def text(self) -> bool:
        return self.fmt in ("csv", "ndjson")

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise ProblemError(
                413,
                "too_large",
                f"the file is larger than this hub accepts ({self.max_bytes:,} bytes); "
                "nothing was stored",
                agreement=self.agreement.id,
                rule="max_bytes",
                hint="split the extract into smaller files, or ask the hub's operators",
            )
        if self.text:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                self._refuse_encoding(self.lines + chunk[: max(exc.start, 0)].count(b"\n") + 1)
            if self._head is not None:
                self._collect_head(chunk)
            self.lines += chunk.count(b"\n")
        else:
            self._tail += chunk
            if len(self._tail) > MAX_FOOTER_BYTES + 8:
                del self._tail[: len(self._tail) - MAX_FOOTER_BYTES - 8]
        self.out.write(chunk)
        self._last = chunk[-1]

    def finish(self) -> None:
        """Checks that need the whole file; sets ``rows_estimate``."""
        if self.size == 0:
            raise ProblemError(
                422,
                "empty_file",
                "the file is empty",
                agreement=self.agreement.id,
                rule="not_empty",
                hint="send the extract's rows (a CSV needs at least its header row)",
            )
        if not self.text:
            self.rows_estimate = self._parquet_rows()
            return
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            self._refuse_encoding(self.lines + 1)
        if self._head is not None:
            self._check_head(bytes(self._head))
        lines = self.lines + (0 if self._last == ord("\n") else 1)
        self.rows_estimate = max(lines - (1 if self.fmt == "csv" else 0), 0)

    # -- checks ------------------------------------------------------------------------------

    def _refuse_encoding(self, line: int) -> None:
        row = line - 1 if self.fmt == "csv" else line
        raise ProblemError(
            422,
            "encoding_invalid",
            f"line {line} of the file is not valid UTF-8",
            agreement=self.agreement.id,
            row=row if row >= 1 else None,
            rule="utf8",
            hint="export the file as UTF-8 (a byte-order mark is accepted)",
        )

    def _collect_head(self, chunk: bytes) -> None:
        assert self._head is not None
        end = chunk.find(b"\n")
        if end < 0:
            self._head.extend(chunk)
            if len(self._head) > MAX_HEADER_BYTES:
                raise ProblemError(
                    422,
                    "header_invalid",
                    f"the first line is longer than {MAX_HEADER_BYTES:,} bytes",
                    agreement=self.agreement.id,
                    rule="header",
                    hint="the first line of a CSV is its header; NDJSON has one object per line",
                )
            return
        self._head.extend(chunk[:end])
        self._check_head(bytes(self._head))

    def _check_head(self, head: bytes) -> None:
        self._head = None
        text = head.removeprefix(BOM).decode("utf-8").rstrip("\r")
        columns = next(csv.reader([text]), []) if self.fmt == "csv" else self._ndjson_keys(text)
        check_columns(self.agreement, [c.strip() for c in columns])

    def _ndjson_keys(self, text: str) -> list[str]:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ProblemError(
                422,
                "row_invalid",
                "line 1 is not a JSON object",
                agreement=self.agreement.id,
                row=1,
                rule="ndjson_object",
                hint="NDJSON has one JSON object per line",
            )
        return [str(key) for key in value]

    def _parquet_rows(self) -> int:
        tail = bytes(self._tail)
        footer_length = struct.unpack("<I", tail[-8:-4])[0] if len(tail) >= 12 else -1
        if tail[-4:] != PARQUET_MAGIC or not 0 < footer_length <= len(tail) - 8:
            raise ProblemError(
                422,
                "parquet_invalid",
                "the file is not a complete Parquet file, or its footer is larger than "
                f"{MAX_FOOTER_BYTES:,} bytes",
                agreement=self.agreement.id,
                rule="parquet",
                hint="send a complete Parquet file (its footer holds the schema); write fewer, "
                "larger row groups if the footer is too large",
            )
        try:
            # the footer alone, framed by the magic bytes, is a file pyarrow can read metadata from
            framed = PARQUET_MAGIC + tail[-8 - footer_length :]
            metadata = pq.ParquetFile(pa.BufferReader(framed)).metadata
            names = list(metadata.schema.to_arrow_schema().names)
        except (pa.ArrowException, OSError):
            raise ProblemError(
                422,
                "parquet_invalid",
                "the file is not a readable Parquet file",
                agreement=self.agreement.id,
                rule="parquet",
                hint="send a complete Parquet file (its footer holds the schema)",
            ) from None
        check_columns(self.agreement, names)
        return int(metadata.num_rows)


def _showable(name: str) -> bool:
    """Whether a column name may appear in a refusal: it looks like a column name, not a value."""
    return bool(COLUMN_NAME.fullmatch(name))


def _named(columns: list[str]) -> str:
    shown = [c for c in columns if _showable(c)]
    hidden = len(columns) - len(shown)
    words = ", ".join(shown)
    if hidden:
        words += f"{', and ' if shown else ''}{hidden} that cannot be shown"
    return words


def check_columns(agreement: Agreement, columns: list[str]) -> None:
    """Refuse a missing header row, duplicated and unexpected columns and missing required ones,
    naming columns (never a value: a first line that is mostly not the agreement's column names
    is a data row, and is not quoted)."""
    expected = set(agreement.received_columns)
    known = sum(1 for c in columns if c in expected)
    if known * 2 < len(columns) or known == 0:
        raise ProblemError(
            422,
            "header_missing",
            f"only {known} of the {len(columns)} names on the first line are columns of "
            f"agreement {agreement.id} v{agreement.version}: is the header row missing, or is "
            f"this another feed? The agreement's columns are {', '.join(sorted(expected))}",
            agreement=agreement.id,
            rule="header",
            hint=f"start the file with a header row naming agreement {agreement.id}'s columns "
            "(the hub does not quote the first line back, in case it holds a person's details)",
        )
    unexpected = [c for c in columns if c not in expected]
    missing = [c for c in agreement.required_columns if c not in columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ProblemError(
            422,
            "header_invalid",
            f"the header names column(s) {_named(duplicated)} more than once",
            agreement=agreement.id,
            field=next((c for c in duplicated if _showable(c)), None),
            rule="unique_columns",
            hint="name each column once",
        )
    if not (unexpected or missing):
        return
    parts = []
    if unexpected:
        parts.append(
            f"unexpected column(s) {_named(unexpected)}: agreement {agreement.id} "
            f"v{agreement.version} does not list them"
        )
    if missing:
        parts.append(f"missing required column(s) {', '.join(missing)}")
    raise ProblemError(
        422,
        "header_mismatch",
        "; ".join(parts),
        agreement=agreement.id,
        field=next((c for c in [*unexpected, *missing] if _showable(c)), None),
        rule="unexpected_column" if unexpected else "missing_column",
        hint=f"send exactly the columns agreement {agreement.id} lists; nothing was stored",
    )
