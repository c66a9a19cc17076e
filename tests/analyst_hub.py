"""A published release and the analysts who use it: the starting point of the analyst tests.

``published_hub(base)`` stages a synthetic partnership (``tests.partnership``), publishes one
release and adds the analysts below, with the example projects of ``contracts/projects/``:

- ``VRP_ANALYST`` works on ``knife-crime-profile`` (police, ED and ambulance; counts only) and
  ``health-violence-needs`` (ED and ambulance only);
- ``HOSPITAL_ANALYST`` works on ``health-violence-needs`` only;
- ``OUTSIDER`` is an analyst on no project;
- ``POLICE_DPL`` is a data protection lead (not an analyst);
- ``EVALUATOR`` works on ``youth-violence-cohort``, a row-level project that exists only with
  ``row_level=True`` (``row_level_contracts``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import Engine

from hub.accounts.users import Role, add_user
from hub.agreements import load_agreements
from hub.publication.release import PublishedRelease, publish_release
from hub.settings import Settings
from tests.partnership import stage_partnership

PASSWORD = "correct horse battery staple"
ROWS = 20_000


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    org: str
    role: Role


VRP_ANALYST = Person("analyst@merseyvale-vrp.example", "Aisha Khan", "merseyvale-vrp", Role.ANALYST)
HOSPITAL_ANALYST = Person(
    "analyst@merseyvale-hospitals.example", "Ben Okafor", "merseyvale-hospitals", Role.ANALYST
)
OUTSIDER = Person("analyst@elsewhere.example", "Cara Doyle", "elsewhere-council", Role.ANALYST)
POLICE_DPL = Person(
    "dpo@merseyvale-police.example", "Priya Raman", "merseyvale-police", Role.DATA_PROTECTION_LEAD
)
EVALUATOR = Person("evaluator@merseyvale-yjs.example", "Dan Ellis", "merseyvale-yjs", Role.ANALYST)
PEOPLE = (VRP_ANALYST, HOSPITAL_ANALYST, OUTSIDER, POLICE_DPL, EVALUATOR)
CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
ROW_LEVEL_PROJECT = (
    Path(__file__).resolve().parent / "fixtures" / "projects" / "youth-violence-cohort.yaml"
)
ROW_LEVEL_GROUP = "youth violence programme evaluation team"


@dataclass(frozen=True)
class PublishedHub:
    settings: Settings
    engine: Engine
    release: PublishedRelease


def row_level_contracts(base: Path) -> Path:
    """A copy of the example contracts in which the youth justice agreement also lets the
    programme evaluation team have pseudonymised rows, with the row-level project of
    ``tests/fixtures/projects/youth-violence-cohort.yaml``."""
    contracts = base / "contracts"
    shutil.copytree(CONTRACTS, contracts)
    path = contracts / "youth-justice.yaml"
    terms = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms["output_access"].append(
        {"who": ROW_LEVEL_GROUP, "purpose": "Programme evaluation", "row_level": True}
    )
    path.write_text(yaml.safe_dump(terms, sort_keys=False), encoding="utf-8")
    shutil.copyfile(ROW_LEVEL_PROJECT, contracts / "projects" / ROW_LEVEL_PROJECT.name)
    return contracts


def published_hub(base: Path, rows: int = ROWS, *, row_level: bool = False) -> PublishedHub:
    """With ``row_level``, on the contracts of ``row_level_contracts``."""
    contracts = row_level_contracts(base) if row_level else None
    settings, engine, ring, _ = stage_partnership(base, rows, contracts)
    release = publish_release(
        settings, engine, ring, load_agreements(settings.contracts_dir), now=datetime.now(UTC)
    )
    for person in PEOPLE:
        add_user(
            engine,
            email=person.email,
            name=person.name,
            org=person.org,
            role=person.role,
            password=PASSWORD,
        )
    return PublishedHub(settings, engine, release)
