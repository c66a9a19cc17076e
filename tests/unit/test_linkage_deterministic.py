"""Deterministic linkage on token files: shared tokens join records, and a pass whose tokens are
all missing (a small extract with no PNC IDs, say) joins nothing instead of failing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hub.linkage import LinkInput, link


def _tokens(path: Path, **columns: list[str | None]) -> LinkInput:
    rows = len(next(iter(columns.values())))
    table = pa.table(
        {"record": pa.array(range(rows), pa.int64())}
        | {name: pa.array(values, pa.string()) for name, values in columns.items()}
    )
    pq.write_table(table, path)
    return LinkInput("police-sv", path.stem, path)


def test_a_pass_with_no_tokens_at_all_joins_nothing(tmp_path: Path) -> None:
    inputs = [
        _tokens(
            tmp_path / "ext-a.parquet",
            tok_pnc_id=[None, None, None],
            tok_local_person_id=["u1", "u2", "u1"],
        )
    ]
    result = link(inputs)
    clusters = result.records.column("cluster").to_pylist()
    assert clusters[0] == clusters[2] != clusters[1]
    assert result.pass_matches == {"pnc_id": 0, "local_person_id": 2}
