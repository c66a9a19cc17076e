"""Staging writes keyed Bloom-filter encodings of the names beside the tokens (linkage zone only):
one per distinct name token, the same for the same name, close for a typo, and never in the
staged data."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.agreements import get_agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.privacy.bloom import (
    BLOOM_META,
    BYTES,
    ENCODING_TYPE,
    ENCODINGS_FILE,
    KEY_VERSION_META,
    dice,
)
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    write_postcode_lookup(hub.settings)
    yield hub
    hub.engine.dispose()


def test_names_are_encoded_for_fuzzy_matching_in_the_linkage_zone_only(hub: ApiHub) -> None:
    police = get_agreement(hub.settings.contracts_dir, "police-sv")
    # the fixture's rows: Ada and Bram Fixturewright; a fourth row spells the surname with a typo
    body = FIXTURE.read_bytes()
    first = body.split(b"\n")[1]
    typo = first.replace(b"URN900001", b"URN900009").replace(b"Fixturewright", b"Fixturwright")
    extract_id = receive_extract(
        hub.settings, hub.engine, hub.keyring, police, sender_org="merseyvale-police",
        source=io.BytesIO(body.rstrip(b"\n") + b"\n" + typo + b"\n"), source_name="x.csv",
    ).id  # fmt: skip
    result = process_extract(hub.settings, hub.engine, hub.keyring, police, extract_id)
    assert result.staged is not None
    tokens = result.staged.tokens_path.read_parquet()
    encodings = result.staged.tokens_path.store.read_parquet(
        result.staged.tokens_path.path.replace("tokens.parquet", ENCODINGS_FILE)
    )
    assert encodings.schema.field("encoding").type == ENCODING_TYPE
    assert ENCODING_TYPE.byte_width == BYTES
    assert encodings.schema.metadata[BLOOM_META].startswith(b"bits=")
    assert encodings.schema.metadata[KEY_VERSION_META] == b"1"
    by_token = {(row["kind"], row["token"]): row["encoding"] for row in encodings.to_pylist()}
    # Ada, Bram, Cleo; Fixturewright, Testerby, Fixturwright: one row per distinct name
    assert sorted(k for k, _ in by_token) == ["forename"] * 3 + ["surname"] * 3

    def encoding(kind: str, row: int) -> bytes:
        return by_token[(kind, tokens.column(f"tok_{kind}")[row].as_py())]

    assert encoding("surname", 0) == encoding("surname", 1)  # the same surname
    assert dice(encoding("surname", 0), encoding("surname", 3)) >= 0.8  # one letter missing
    assert dice(encoding("forename", 0), encoding("forename", 1)) < 0.5  # Ada and Bram
    assert not [n for n in tokens.column_names if n.startswith("bf_")]
    staged = result.staged.staged_path.parquet_file().schema_arrow
    assert not [n for n in staged.names if n.startswith(("bf_", "tok_"))]
