"""Person keys analysts see: new in every release, stable within a named longitudinal project,
and never joinable to a linkage token without the hub's release key."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.agreements import load_agreement
from hub.agreements.model import Agreement, LongitudinalProject
from hub.privacy.keys import DataKey, Keyring, init_keyring, open_keyring
from hub.privacy.tokens import TOKEN_TYPE, keyed_hash
from hub.publication.pseudonyms import (
    PERSON_KEY_BYTES,
    hex_head,
    project_key_table,
    project_keys_path,
    project_person_keys,
    projects_allowed,
    release_key,
    release_person_keys,
)
from hub.settings import Settings
from tests.conftest import CONTRACTS

POLICE = load_agreement(CONTRACTS / "police-sv.yaml")
YOUTH = load_agreement(CONTRACTS / "youth-justice.yaml")
NHS_NUMBERS = ["9434765919", "9434765870", "4010232137", "9876543210"]


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    return init_keyring(settings)


def _tokens(keyring: Keyring) -> pa.Array:
    """Linkage tokens as the stage step makes them (``tok_nhs_number``)."""
    return keyed_hash(pa.array(NHS_NUMBERS), keyring.current("pseudonymisation"), "nhs_number")


def _documented(secret: bytes, value: bytes) -> str:
    subkey = hmac.new(secret, b"svd-hub/token/v1/person", hashlib.sha256).digest()
    return hmac.new(subkey, value, hashlib.sha256).digest()[:16].hex()


def test_release_keys_match_the_documented_construction(keyring: Keyring) -> None:
    """The format releases have always had: 32 lowercase hex characters, from the release key
    and the release id; nulls stay null."""
    keys = release_person_keys(pa.array(["police-sv:x-1:0", None]), keyring, "rel-1")
    base = keyring.current("release").secret
    secret = hashlib.sha256(base + b"\x00svd-hub/release/rel-1").digest()
    assert keys.type == pa.string()
    assert keys.to_pylist() == [_documented(secret, b"police-sv:x-1:0"), None]
    assert len(keys[0].as_py()) == 2 * PERSON_KEY_BYTES == 32
    assert keys[0].as_py() == keys[0].as_py().lower()


def test_project_keys_match_the_documented_construction(keyring: Keyring) -> None:
    keys = project_person_keys(pa.array(["police-sv:x-1:0"]), keyring, "youth-cohort")
    base = keyring.current("release").secret
    secret = hmac.new(base, b"svd-hub/project/v1/youth-cohort", hashlib.sha256).digest()
    assert keys.to_pylist() == [_documented(secret, b"police-sv:x-1:0")]


def test_the_same_person_has_another_key_in_every_release(keyring: Keyring) -> None:
    tokens = _tokens(keyring)
    first = release_person_keys(tokens, keyring, "rel-20260101-aaaa").to_pylist()
    second = release_person_keys(tokens, keyring, "rel-20260201-bbbb").to_pylist()
    assert all(a != b for a, b in zip(first, second, strict=True))
    assert not set(first) & set(second)  # not even another person's key


def test_release_keys_are_deterministic_for_one_release(
    keyring: Keyring, settings: Settings
) -> None:
    tokens = _tokens(keyring)
    assert release_person_keys(tokens, keyring, "rel-1") == release_person_keys(
        tokens, keyring, "rel-1"
    )
    again = open_keyring(settings)  # as a later process loads it
    assert release_person_keys(tokens, again, "rel-1") == release_person_keys(
        tokens, keyring, "rel-1"
    )
    assert len(set(release_person_keys(tokens, keyring, "rel-1").to_pylist())) == len(tokens)


def test_a_project_keeps_its_keys_across_releases_and_projects_differ(keyring: Keyring) -> None:
    tokens = _tokens(keyring)
    cohort = project_person_keys(tokens, keyring, "youth-cohort")
    assert project_person_keys(tokens, keyring, "youth-cohort") == cohort
    repeat = project_person_keys(tokens, keyring, "repeat-victims").to_pylist()
    assert not set(cohort.to_pylist()) & set(repeat)
    # A project key is not any release's key, whatever the release is called.
    for release_id in ("rel-1", "youth-cohort", "project:youth-cohort"):
        assert not set(cohort.to_pylist()) & set(
            release_person_keys(tokens, keyring, release_id).to_pylist()
        )


def test_rotating_the_release_key_changes_project_keys_and_old_ones_can_be_recomputed(
    keyring: Keyring,
) -> None:
    tokens = _tokens(keyring)
    before = project_person_keys(tokens, keyring, "youth-cohort")
    old_release = release_key(keyring, "rel-1")
    keyring.rotate("release")  # `hub keys rotate`: version 2 joins version 1
    after = project_person_keys(tokens, keyring, "youth-cohort")
    assert not set(before.to_pylist()) & set(after.to_pylist())
    assert project_person_keys(tokens, keyring, "youth-cohort", release_version=1) == before
    assert release_key(keyring, "rel-1").version == 2
    assert release_key(keyring, "rel-1", release_version=1) == old_release


def _hex_forms(value: bytes) -> set[str]:
    text = value.hex()
    return {text, text.upper()}


def test_a_published_key_cannot_be_joined_to_a_linkage_token(keyring: Keyring) -> None:
    """Neither the key nor any part of it equals a token, its hex, or anything the
    pseudonymisation key alone derives from the token: without the release key nothing maps one
    to the other."""
    tokens = _tokens(keyring)
    assert tokens.type == TOKEN_TYPE
    raw = [t for t in tokens.to_pylist() if t is not None]
    pseudo = keyring.current("pseudonymisation")
    derivable: set[str] = set()
    for token in raw:
        derivable |= _hex_forms(token)
        for domain in ("person", "nhs_number"):  # re-hashed with the pseudonymisation key
            derivable |= _hex_forms(keyed_hash(pa.array([token]), pseudo, domain)[0].as_py())
        derivable |= _hex_forms(hashlib.sha256(token).digest())  # or with no key at all
    for keys in (
        release_person_keys(tokens, keyring, "rel-1"),
        project_person_keys(tokens, keyring, "youth-cohort"),
    ):
        for key in keys.to_pylist():
            assert key not in derivable
            assert bytes.fromhex(key) not in raw
            for text in derivable:
                assert key not in text  # not a slice of any token's hex, at any offset
                assert text[:16] not in key and text[-16:] not in key  # nor the other way
            for token in raw:
                assert bytes.fromhex(key) not in token
                assert token[:PERSON_KEY_BYTES] != bytes.fromhex(key)


def test_without_the_release_key_a_guessed_key_maps_nothing(keyring: Keyring) -> None:
    """Someone with the tokens and the pseudonymisation key, guessing the release key, gets keys
    that match none in the release."""
    tokens = _tokens(keyring)
    published = set(release_person_keys(tokens, keyring, "rel-1").to_pylist())
    for guess in (keyring.current("pseudonymisation"), DataKey("release", 1, bytes(32))):
        secret = hashlib.sha256(guess.secret + b"\x00svd-hub/release/rel-1").digest()
        guessed = keyed_hash(tokens, DataKey("release:rel-1", 1, secret), "person")
        assert not {t[:PERSON_KEY_BYTES].hex() for t in guessed.to_pylist()} & published


@given(st.lists(st.one_of(st.none(), st.binary(min_size=32, max_size=32)), max_size=40))
def test_hex_head_is_the_hex_of_the_first_16_bytes(values: list[bytes | None]) -> None:
    macs = pa.array(values, TOKEN_TYPE)
    expected = [None if v is None else v[:16].hex() for v in values]
    assert hex_head(macs).to_pylist() == expected
    if len(values) > 2:
        assert hex_head(macs.slice(1, len(values) - 2)).to_pylist() == expected[1:-1]


def _with_projects(agreement: Agreement, *projects: LongitudinalProject) -> Agreement:
    return agreement.model_copy(update={"longitudinal_projects": projects})


def test_projects_allowed_respects_each_projects_end() -> None:
    cohort = LongitudinalProject(name="youth-cohort", purpose="x", until=date(2026, 6, 30))
    repeat = LongitudinalProject(name="repeat-victims", purpose="y")  # until the agreement ends
    agreements = {
        "police-sv": _with_projects(POLICE, cohort, repeat),
        "youth-justice": _with_projects(YOUTH, cohort),
        "schools": load_agreement(CONTRACTS / "schools.yaml"),
    }
    assert projects_allowed(agreements, date(2026, 1, 15)) == {
        "repeat-victims": {"police-sv"},
        "youth-cohort": {"police-sv", "youth-justice"},
    }
    assert projects_allowed(agreements, date(2026, 6, 30))["youth-cohort"] == {
        "police-sv",
        "youth-justice",
    }
    assert projects_allowed(agreements, date(2026, 7, 1)) == {"repeat-victims": {"police-sv"}}
    assert projects_allowed(agreements, POLICE.valid_until + timedelta(days=1)) == {}
    assert projects_allowed(agreements, POLICE.valid_from - timedelta(days=1)) == {}


def test_a_project_never_outlives_its_agreement() -> None:
    late = LongitudinalProject(name="youth-cohort", purpose="x", until=date(2030, 1, 1))
    agreements = {"police-sv": _with_projects(POLICE, late)}
    assert projects_allowed(agreements, POLICE.valid_until) == {"youth-cohort": {"police-sv"}}
    assert projects_allowed(agreements, POLICE.valid_until + timedelta(days=1)) == {}


def test_the_example_youth_justice_agreement_has_a_project() -> None:
    allowed = projects_allowed({"youth-justice": YOUTH}, date(2026, 1, 15))
    assert allowed == {"youth-violence-cohort": {"youth-justice"}}


def test_project_key_table_maps_only_people_an_allowing_agreement_sent(keyring: Keyring) -> None:
    # Five records, three people: p1 in police and youth justice, p2 police only, p3 schools.
    representatives = pa.array(["p1", "p1", "p2", "p3", "p1"])
    agreements = pa.array(["police-sv", "youth-justice", "police-sv", "schools", "police-sv"])
    person_keys = release_person_keys(representatives, keyring, "rel-1")
    table = project_key_table(
        person_keys, representatives, agreements, keyring, "youth-cohort", {"youth-justice"}
    )
    (p1,) = release_person_keys(pa.array(["p1"]), keyring, "rel-1").to_pylist()
    assert table.column_names == ["person_key", "project_person_key"]
    assert table.column("person_key").to_pylist() == [p1]
    assert table.column("project_person_key").to_pylist() == (
        project_person_keys(pa.array(["p1"]), keyring, "youth-cohort").to_pylist()
    )
    both = project_key_table(
        person_keys,
        representatives,
        agreements,
        keyring,
        "youth-cohort",
        {"youth-justice", "police-sv"},
    )
    assert both.num_rows == 2  # p1 once, however many records it has; p2; never p3
    assert both.column("person_key").to_pylist() == sorted(
        release_person_keys(pa.array(["p1", "p2"]), keyring, "rel-1").to_pylist()
    )
    nobody = project_key_table(person_keys, representatives, agreements, keyring, "x", set())
    assert nobody.num_rows == 0
    assert project_keys_path(Path("rel"), "youth-cohort") == Path(
        "rel/projects/youth-cohort/person_keys.parquet"
    )
