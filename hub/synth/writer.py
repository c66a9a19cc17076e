"""Files on disk: extracts written chunk by chunk, the ground truth, the people and synth.json.

CSV extracts are UTF-8 with an unquoted header row, then rows written by pyarrow's CSV writer
(strings quoted, missing values empty). Parquet files use zstd and carry no timestamps, so the
same seed and arguments give byte-identical files. Writing in chunks keeps memory bounded at
ten million rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hub.synth.population import Population

TRUTH_SCHEMA: Final = pa.schema(
    [("agreement_id", pa.string()), ("row_number", pa.int64()), ("person_id", pa.string())]
)
PEOPLE_SCHEMA: Final = pa.schema(
    [
        ("person_id", pa.string()),
        ("forename", pa.string()),
        ("surname", pa.string()),
        ("date_of_birth", pa.string()),
        ("sex", pa.string()),
        ("nhs_number", pa.string()),
        ("upn", pa.string()),
        ("pnc_id", pa.string()),
        ("postcodes", pa.list_(pa.string())),
    ]
)
CHUNK_ROWS: Final = 250_000


class TableWriter:
    """Appends tables to one CSV or Parquet file (chosen by the suffix)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._csv: Any = None
        self._parquet: pq.ParquetWriter | None = None
        self._handle: IO[bytes] | None = None

    def write(self, table: pa.Table) -> None:
        if self.path.suffix == ".parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table)
            return
        if self._handle is None:
            self._handle = self.path.open("wb")
            self._handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
            options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
            self._csv = pacsv.CSVWriter(self._handle, table.schema, write_options=options)
        self._csv.write_table(table)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def truth_table(agreement_id: str, first_row: int, person_ids: list[str]) -> pa.Table:
    """Ground-truth rows: which true person each extract row (1-based) belongs to."""
    n = len(person_ids)
    return pa.table(
        {
            "agreement_id": pa.array([agreement_id] * n, type=pa.string()),
            "row_number": pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
            "person_id": pa.array(person_ids, type=pa.string()),
        },
        schema=TRUTH_SCHEMA,
    )


def write_people(pop: Population, path: Path) -> None:
    """One row per true person, in person_id order, with every postcode they ever had."""
    order: npt.NDArray[np.int64] = np.argsort(pop.number, kind="stable")
    with TableWriter(path) as writer:
        for start in range(0, order.size, CHUNK_ROWS):
            index = order[start : start + CHUNK_ROWS]
            home = pop.home[index]
            moved = home[:, 0] != home[:, 1]
            lengths = 1 + moved.astype(np.int32)
            flat = np.where(moved[:, None], home, np.stack([home[:, 0], home[:, 0]], 1))
            keep = np.ones(flat.shape, dtype=bool)
            keep[:, 1] = moved
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
            values = pa.array(pop.postcode_pool[flat[keep]], type=pa.string())
            stamps = pa.array(pop.dob[index].astype(np.int32), type=pa.date32())
            nhs = pop.nhs[index]
            writer.write(
                pa.table(
                    {
                        "person_id": pa.array(pop.person_ids(index), type=pa.string()),
                        "forename": pa.array(pop.forename_pool[pop.forename[index]], pa.string()),
                        "surname": pa.array(pop.surname_pool[pop.surname[index]], pa.string()),
                        "date_of_birth": stamps.cast(pa.string()),
                        "sex": pa.array(np.array(["M", "F"])[pop.sex[index]], pa.string()),
                        "nhs_number": pa.array(nhs, mask=nhs == 0).cast(pa.string()),
                        "upn": pop.upn.take(pa.array(index)),
                        "pnc_id": pop.pnc.take(pa.array(index)),
                        "postcodes": pa.ListArray.from_arrays(pa.array(offsets), values),
                    },
                    schema=PEOPLE_SCHEMA,
                )
            )


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Pretty, stable JSON (no timestamps, so reruns are byte-identical)."""
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
