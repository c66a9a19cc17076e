"""Analysts' projects, and which agreements each may draw on today.

A project is a named piece of analysis (a problem profile, an evaluation) with a purpose, the
organisation that runs it, the analysts who work on it and the agreements whose data it needs.
Each project is a file, ``contracts/projects/<name>.yaml``, reviewed and committed like the
agreements themselves (docs/analysts.md):

.. code-block:: yaml

    name: knife-crime-profile
    title: Knife crime problem profile
    organisation: merseyvale-vrp
    purpose: >-
      The partnership's annual knife crime problem profile and the Home Office measures.
    access: partnership analyst network     # the agreements' output_access ``who`` relied on
    agreements: [ed-assaults, police-sv, ambulance-assaults]
    row_level: false                        # pseudonymised rows, not only aggregates
    analysts: [analyst@merseyvale-vrp.example]
    until: 2027-03-31

The project is approved against each agreement it names, every time it is used (``approval``):
the agreement must be in force today (approved by every party, within its validity, not
suspended or revoked), it must list the project's ``access`` group among the people who may use
its outputs, and, for a row-level project, that entry must allow row-level outputs. A project
draws only on the agreements that pass; data from the others, and every release, table and
column that only they feed, is invisible to its analysts (not refused: absent). When an agreement
is suspended, its data leaves every project at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.accounts.users import normalise_email
from hub.agreements.model import Agreement, OutputAccess
from hub.agreements.registry import AgreementRegistry
from hub.config_files import load_config
from hub.errors import NotFoundError, UserError

PROJECTS_DIR = Path("projects")  # under the contracts folder
DOCUMENTED_IN = "docs/analysts.md"


class Project(BaseModel):
    """One analysts' project as its file states it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=60)
    title: str = Field(min_length=1)
    organisation: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    purpose: str = Field(min_length=10)
    access: str = Field(min_length=1)
    agreements: tuple[str, ...] = Field(min_length=1)
    row_level: bool = False
    analysts: tuple[str, ...] = ()
    until: date | None = None

    @model_validator(mode="after")
    def _tidy(self) -> Project:
        if len(set(self.agreements)) != len(self.agreements):
            raise ValueError("an agreement is named twice")
        for email in self.analysts:
            if "@" not in email or email != normalise_email(email):
                raise ValueError(f"analyst {email!r} is not a lower-case email address")
        return self

    def has_analyst(self, email: str) -> bool:
        return normalise_email(email) in self.analysts


@dataclass(frozen=True)
class AgreementCheck:
    """Whether a project may draw on one agreement today, and why (not)."""

    agreement_id: str
    usable: bool
    reason: str
    access: OutputAccess | None = None  # the agreement's entry the project relies on


@dataclass(frozen=True)
class Approval:
    """A project's standing today: the agreements it may draw on, with the reason for each."""

    project: Project
    checks: tuple[AgreementCheck, ...]
    expired: bool

    @property
    def sources(self) -> tuple[str, ...]:
        """The agreements whose data the project sees (none once it has expired)."""
        if self.expired:
            return ()
        return tuple(c.agreement_id for c in self.checks if c.usable)

    @property
    def usable(self) -> bool:
        return bool(self.sources)


def load_projects(contracts_dir: Path) -> dict[str, Project]:
    """Every project file, by name; a broken file is one clear ``UserError``."""
    folder = contracts_dir / PROJECTS_DIR
    projects: dict[str, Project] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        project, _ = load_config(path, Project, documented_in=DOCUMENTED_IN)
        if path.stem != project.name:
            raise UserError(
                f"{path.name}: the file of project {project.name} must be named "
                f"{project.name}.yaml",
                hint="rename the file or the project",
            )
        projects[project.name] = project
    return projects


def projects_of(projects: dict[str, Project], email: str) -> list[Project]:
    """The projects ``email`` works on, by name."""
    return [p for _, p in sorted(projects.items()) if p.has_analyst(email)]


def project_for(projects: dict[str, Project], name: str, email: str) -> Project:
    """The project ``name`` when ``email`` works on it. A project the analyst is not on is
    reported exactly like one that does not exist."""
    project = projects.get(name)
    if project is None or not project.has_analyst(email):
        raise NotFoundError(
            f"you have no project named {name!r}",
            hint="your projects are listed on the catalogue page and by hub query --list",
        )
    return project


def approval(
    project: Project,
    agreements: dict[str, Agreement],
    registry: AgreementRegistry,
    today: date,
) -> Approval:
    """Check ``project`` against each agreement it names, as they stand on ``today``."""
    checks = []
    for agreement_id in project.agreements:
        agreement = agreements.get(agreement_id)
        if agreement is None:
            checks.append(AgreementCheck(agreement_id, False, "there is no such agreement"))
            continue
        status = registry.status(agreement, today)
        if not status.in_force:
            checks.append(AgreementCheck(agreement_id, False, status.reason))
            continue
        checks.append(_access_check(project, agreement))
    expired = project.until is not None and today > project.until
    return Approval(project, tuple(checks), expired)


def _access_check(project: Project, agreement: Agreement) -> AgreementCheck:
    entries = [a for a in agreement.output_access if a.who == project.access]
    if not entries:
        groups = "; ".join(a.who for a in agreement.output_access)
        return AgreementCheck(
            agreement.id,
            False,
            f"its outputs are for {groups}, not for {project.access}",
        )
    if project.row_level:
        rows = [a for a in entries if a.row_level]
        if not rows:
            return AgreementCheck(
                agreement.id,
                False,
                f"it allows {project.access} aggregates only, and this project is row-level",
                entries[0],
            )
        return AgreementCheck(agreement.id, True, "in force; row-level outputs allowed", rows[0])
    return AgreementCheck(agreement.id, True, "in force; aggregate outputs allowed", entries[0])
