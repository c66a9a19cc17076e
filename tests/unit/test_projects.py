"""Projects are files checked against each agreement's output_access: the access group must be
listed, and a row-level project needs an entry that allows rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.agreements import load_agreements
from hub.agreements.model import OutputAccess
from hub.analysis.projects import Project, _access_check, load_projects, project_for
from hub.errors import NotFoundError, UserError

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _project(**changes: object) -> Project:
    values: dict[str, object] = {
        "name": "p",
        "title": "A project",
        "organisation": "merseyvale-vrp",
        "purpose": "A purpose long enough",
        "access": "partnership analyst network",
        "agreements": ["ed-assaults"],
        "analysts": ["a@b.example"],
    }
    values.update(changes)
    return Project.model_validate(values)


def test_the_example_projects_load_and_name_only_real_agreements() -> None:
    projects = load_projects(CONTRACTS)
    agreements = load_agreements(CONTRACTS)
    assert {"knife-crime-profile", "health-violence-needs"} <= set(projects)
    for project in projects.values():
        assert set(project.agreements) <= set(agreements)


def test_the_access_group_must_be_listed_by_the_agreement() -> None:
    ed = load_agreements(CONTRACTS)["ed-assaults"]
    assert _access_check(_project(), ed).usable
    other = _access_check(_project(access="a commercial partner"), ed)
    assert not other.usable and "not for a commercial partner" in other.reason


def test_a_row_level_project_needs_an_entry_that_allows_rows() -> None:
    ed = load_agreements(CONTRACTS)["ed-assaults"]
    refused = _access_check(_project(row_level=True), ed)
    assert not refused.usable and "aggregates only" in refused.reason
    rows = OutputAccess(who="partnership analyst network", purpose="Cohort", row_level=True)
    allowed = ed.model_copy(update={"output_access": (*ed.output_access, rows)})
    check = _access_check(_project(row_level=True), allowed)
    assert check.usable and check.access == rows


def test_a_broken_or_misnamed_project_file_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    folder.mkdir()
    (folder / "x.yaml").write_text("name: x\ntitle: X\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"x.yaml: organisation: Field required"):
        load_projects(tmp_path)
    (folder / "x.yaml").write_text(
        (CONTRACTS / "projects" / "knife-crime-profile.yaml").read_text(), encoding="utf-8"
    )
    with pytest.raises(UserError, match=r"must be named knife-crime-profile\.yaml"):
        load_projects(tmp_path)
    (folder / "x.yaml").write_text(
        "name: x\ntitle: X\norganisation: o\npurpose: A purpose long enough\naccess: a\n"
        "agreements: [ed-assaults]\nanalysts: [A@B.example]\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError, match="lower-case email"):
        load_projects(tmp_path)


def test_a_project_the_analyst_is_not_on_is_not_found() -> None:
    projects = {"p": _project()}
    assert project_for(projects, "p", "A@b.example").name == "p"
    with pytest.raises(NotFoundError, match="no project named 'p'"):
        project_for(projects, "p", "someone@else.example")
