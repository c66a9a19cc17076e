"""Release pseudonyms on a synthetic partnership: person keys differ in every release; a named
longitudinal project gets keys that stay the same across releases, only for people the allowing
agreement holds, and only while the project runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from hub.agreements import load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.model import Agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.publication.pseudonyms import project_keys_path
from hub.publication.release import PublishedRelease, publish_release
from hub.settings import Settings
from hub.store import make_engine, upgrade
from hub.synth import generate_partnership
from tests.conftest import make_settings

PROJECT = "youth-violence-cohort"  # contracts/youth-justice.yaml, until 2026-12-31
DURING = datetime(2026, 6, 1, 9, tzinfo=UTC)


@dataclass
class Partnership:
    settings: Settings
    engine: Engine
    ring: Keyring
    agreements: dict[str, Agreement]
    partners: Path

    def send(self, agreement_id: str, path: Path) -> None:
        agreement = self.agreements[agreement_id]
        with path.open("rb") as source:
            extract = receive_extract(
                self.settings,
                self.engine,
                self.ring,
                agreement,
                sender_org=agreement.provider,
                source=source,
                source_name=path.name,
                today=DURING.date(),
            )
        stage_extract(
            self.settings, self.engine, self.ring, agreement, extract.id, today=DURING.date()
        )

    def publish(self, now: datetime) -> PublishedRelease:
        return publish_release(self.settings, self.engine, self.ring, self.agreements, now=now)


@pytest.fixture(scope="module")
def partnership(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partnership]:
    base = tmp_path_factory.mktemp("pseudonyms")
    settings = make_settings(base)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    agreements = load_agreements(settings.contracts_dir)
    summary = generate_partnership(base / "partners", rows=3000)
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(
        base / "partners" / "reference" / "postcode_lsoa.csv",
        settings.reference_dir / "postcode_lsoa.csv",
    )
    approve_for_development(settings, engine, agreements.values())
    hub = Partnership(settings, engine, init_keyring(settings), agreements, base / "partners")
    for agreement_id in agreements:
        hub.send(agreement_id, summary.files[agreement_id])
    yield hub
    engine.dispose()


def _keys(release: PublishedRelease) -> tuple[set[str], dict[str, str]]:
    people = pq.read_table(release.path / "person.parquet").column("person_key").to_pylist()
    path = project_keys_path(release.path, PROJECT)
    mapping = pq.read_table(path).to_pylist() if path.exists() else []
    return set(people), {row["person_key"]: row["project_person_key"] for row in mapping}


def test_person_keys_change_but_project_keys_follow_the_people(partnership: Partnership) -> None:
    first = partnership.publish(DURING)
    people_1, project_1 = _keys(first)
    # a later delivery: part of the ED feed sent again as a new extract
    ed = pacsv.read_csv(
        partnership.partners / "extracts" / "ed-assaults.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={
                n: pa.string() for n in partnership.agreements["ed-assaults"].received_fields
            }
        ),
    )
    resent = partnership.partners / "ed-resent.csv"
    pacsv.write_csv(ed.slice(0, 50), resent)
    partnership.send("ed-assaults", resent)
    second = partnership.publish(DURING.replace(day=2))
    people_2, project_2 = _keys(second)

    assert first.release_id != second.release_id
    assert len(people_1) == len(people_2) > 1000
    assert not people_1 & people_2, "a person key must not carry over to another release"
    assert len(project_1) >= 10
    assert set(project_1.values()) == set(project_2.values()), "project keys stay the same"
    assert set(project_1) <= people_1
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["projects"][PROJECT]["agreements"] == ["youth-justice"]
    assert manifest["projects"][PROJECT]["rows"] == len(project_2)


def test_only_the_allowing_agreements_people_are_in_the_project(
    partnership: Partnership,
) -> None:
    release = partnership.publish(DURING.replace(day=3))
    _, project = _keys(release)
    events = pq.read_table(release.path / "event.parquet").to_pylist()
    youth = {e["person_key"] for e in events if e["source"] == "youth-justice"}
    assert set(project) == youth


def test_no_project_keys_after_the_project_ends(partnership: Partnership) -> None:
    release = partnership.publish(datetime(2027, 1, 15, tzinfo=UTC))
    assert not (release.path / "projects").exists()
    manifest = json.loads((release.path / "manifest.json").read_text())
    assert manifest["projects"] == {}
