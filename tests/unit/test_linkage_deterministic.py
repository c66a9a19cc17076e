"""Deterministic linkage on token files: shared tokens join records, and a pass whose tokens are
all missing (a small extract with no PNC IDs, say) joins nothing instead of failing."""

from __future__ import annotations

import pyarrow as pa

from hub.linkage import LinkInput, link
from hub.settings import Settings
from hub.storage import ZoneStore, zone_store


def _tokens(store: ZoneStore, extract: str, **columns: list[str | None]) -> LinkInput:
    rows = len(next(iter(columns.values())))
    table = pa.table(
        {"record": pa.array(range(rows), pa.int64())}
        | {name: pa.array(values, pa.string()) for name, values in columns.items()}
    )
    path = f"police-sv/{extract}/tokens.parquet"
    store.write_parquet(path, table)
    return LinkInput("police-sv", extract, path)


def test_a_pass_with_no_tokens_at_all_joins_nothing(settings: Settings) -> None:
    store = zone_store(settings, "linkage")
    inputs = [
        _tokens(
            store,
            "ext-a",
            tok_pnc_id=[None, None, None],
            tok_local_person_id=["u1", "u2", "u1"],
        )
    ]
    result = link(store, inputs)
    clusters = result.records.column("cluster").to_pylist()
    assert clusters[0] == clusters[2] != clusters[1]
    assert result.pass_matches == {"pnc_id": 0, "local_person_id": 2}
