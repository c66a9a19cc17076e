"""Staging writes keyed Bloom-filter encodings of the names into the tokens file (linkage zone
only): one per row, the same for the same name, described in the column's metadata, and never
in the staged data."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hub.agreements import get_agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.privacy.bloom import BLOOM_META, BYTES, ENCODING_TYPE, dice
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
    tokens = pq.read_table(result.staged.tokens_path)
    for name, kind in (("bf_forename", "forename"), ("bf_surname", "surname")):
        field = tokens.schema.field(name)
        assert field.type == ENCODING_TYPE and ENCODING_TYPE.byte_width == BYTES
        assert (field.metadata or {})[BLOOM_META].decode().startswith(f"{kind};bits=")
    surnames = tokens.column("bf_surname").to_pylist()
    forenames = tokens.column("bf_forename").to_pylist()
    assert surnames[0] == surnames[1]  # the same surname, the same encoding
    assert dice(surnames[0], surnames[-1]) >= 0.8  # one letter missing: still close
    assert dice(forenames[0], forenames[1]) < 0.5  # Ada and Bram
    staged = pq.read_schema(result.staged.staged_path)
    assert not [n for n in staged.names if n.startswith(("bf_", "tok_"))]
