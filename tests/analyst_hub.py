"""A published release and the analysts who use it: the starting point of the analyst tests.

``published_hub(base)`` stages a synthetic partnership (``tests.partnership``), publishes one
release and adds the analysts below, with the example projects of ``contracts/projects/``:

- ``VRP_ANALYST`` works on ``knife-crime-profile`` (police, ED and ambulance; counts only) and
  ``health-violence-needs`` (ED and ambulance only);
- ``HOSPITAL_ANALYST`` works on ``health-violence-needs`` only;
- ``OUTSIDER`` is an analyst on no project;
- ``POLICE_DPL`` is a data protection lead (not an analyst).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
PEOPLE = (VRP_ANALYST, HOSPITAL_ANALYST, OUTSIDER, POLICE_DPL)


@dataclass(frozen=True)
class PublishedHub:
    settings: Settings
    engine: Engine
    release: PublishedRelease


def published_hub(base: Path, rows: int = ROWS) -> PublishedHub:
    settings, engine, ring, _ = stage_partnership(base, rows)
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
