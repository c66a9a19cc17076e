"""Risk flags: what a data protection lead should look at twice, most serious first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.agreements import load_agreement
from hub.agreements.model import LANDING_DAYS_MAX, Agreement
from hub.agreements.risks import (
    LONG_RETENTION_DAYS,
    VALIDITY_WARNING_DAYS,
    RiskFlag,
    risk_flags,
)
from tests.conftest import CONTRACTS

CONTRACT_FILES = sorted(CONTRACTS.glob("*.yaml"))
POLICE = load_agreement(CONTRACTS / "police-sv.yaml")
IN_FORCE = date(2026, 1, 15)  # well inside every real agreement's validity, before review
LEVELS = {"high": 0, "medium": 1, "info": 2}

Terms = dict[str, Any]


def _terms(name: str = "police-sv") -> Terms:
    doc: Terms = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text("utf-8"))
    return doc


def _field(terms: Terms, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in terms["fields"] if f["name"] == name)
    return found


def _keep(terms: Terms, name: str) -> None:
    spec = _field(terms, name)
    for key in ("rule", "relative_to", "output"):
        spec.pop(key, None)
    spec["treatment"] = "keep"


def _flags(terms: Terms, today: date = IN_FORCE) -> tuple[RiskFlag, ...]:
    return risk_flags(Agreement.model_validate(terms), today)


def _titled(flags: tuple[RiskFlag, ...], title: str) -> list[RiskFlag]:
    return [f for f in flags if f.title == title]


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.stem)
def test_real_agreements_have_no_high_risks(path: Path) -> None:
    flags = risk_flags(load_agreement(path), IN_FORCE)
    assert not [f for f in flags if f.level == "high"]
    assert all(f.title and f.detail for f in flags)


def test_police_agreement_flags() -> None:
    flags = risk_flags(POLICE, IN_FORCE)
    assert [(f.level, f.title) for f in flags] == [
        ("medium", "Quasi-identifiers that single people out when kept together"),
        ("info", "Criminal offence data kept at full detail"),
    ]
    cells = flags[0].detail
    for column in ("offence_time", "offence_date", "lsoa_code", "home_lsoa", "age_band", "sex"):
        assert column in cells
    assert "Article 10 condition stated" in flags[1].detail


def test_unjustified_special_category_data_is_flagged() -> None:
    justified = risk_flags(load_agreement(CONTRACTS / "ed-assaults.yaml"), IN_FORCE)
    title = "Special category data kept at full detail without a justification"
    assert not _titled(justified, title), "every kept special category field is justified"
    (info,) = _titled(justified, "Special category data kept at full detail")
    assert info.level == "info"
    terms = _terms("ed-assaults")
    for spec in terms["fields"]:
        if spec["name"] == "arrival_datetime":
            del spec["justification"]
    (flag,) = _titled(_flags(terms), title)
    assert flag.level == "medium"
    assert "arrival_datetime" in flag.detail


@pytest.mark.parametrize(
    ("change", "level", "title", "field"),
    [
        (lambda t: _keep(t, "mo_text"), "high", "Free text kept", "mo_text"),
        (lambda t: _keep(t, "forename"), "high", "Direct identifier kept", "forename"),
        (lambda t: _keep(t, "person_urn"), "high", "Direct identifier kept", "person_urn"),
        (
            lambda t: _keep(t, "date_of_birth"),
            "high",
            "Exact date of birth kept",
            "date_of_birth",
        ),
        (
            lambda t: _field(t, "date_of_birth").update(rule="date"),
            "high",
            "Exact date of birth kept",
            "date_of_birth",
        ),
        (lambda t: _keep(t, "home_postcode"), "high", "Full postcode kept", "home_postcode"),
    ],
)
def test_field_risks(change: Callable[[Terms], None], level: str, title: str, field: str) -> None:
    terms = _terms()
    change(terms)
    (flag,) = _titled(_flags(terms), title)
    assert (flag.level, flag.field) == (level, field)
    assert field in flag.detail


def test_free_text_flag_quotes_the_justification() -> None:
    terms = _terms()
    _keep(terms, "mo_text")
    _field(terms, "mo_text")["justification"] = "Weapon type is only recorded here"
    (flag,) = _titled(_flags(terms), "Free text kept")
    assert "Weapon type is only recorded here" in flag.detail


def test_an_undeclared_date_of_birth_is_recognised_by_its_name() -> None:
    terms = _terms("schools")
    terms["fields"].append(
        {
            "name": "pupil_dob",
            "description": "Date of birth",
            "type": "date",
            "classification": "quasi_identifier",
            "treatment": "keep",
        }
    )
    (flag,) = _titled(_flags(terms), "Exact date of birth kept")
    assert flag.field == "pupil_dob"


def test_missing_article_conditions_are_high() -> None:
    terms = _terms()
    del terms["lawful_basis"]["article10"]
    (flag,) = _titled(_flags(terms), "Criminal offence data without an Article 10 condition")
    assert flag.level == "high"
    terms = _terms("ed-assaults")
    del terms["lawful_basis"]["article9"]
    (flag,) = _titled(_flags(terms), "Special category data without an Article 9 condition")
    assert flag.level == "high"


def test_row_level_output_is_high() -> None:
    terms = _terms()
    terms["output_access"][0]["row_level"] = True
    flags = _flags(terms)
    (flag,) = _titled(flags, "Row-level output access")
    assert flag.level == "high"
    assert "partnership analyst network" in flag.detail
    assert flags[0] == flag


def test_date_combinations_are_info_unless_rows_leave_the_hub() -> None:
    terms = _terms("schools")
    (flag,) = _titled(_flags(terms), "Quasi-identifiers kept together")
    assert flag.level == "info"
    terms["output_access"][0]["row_level"] = True
    (flag,) = _titled(_flags(terms), "Quasi-identifiers kept together")
    assert flag.level == "medium"


def test_generalising_the_event_time_removes_the_small_cell_risk() -> None:
    terms = _terms()
    _field(terms, "offence_time")["treatment"] = "drop"
    flags = _flags(terms)
    assert not _titled(flags, "Quasi-identifiers that single people out when kept together")
    assert _titled(flags, "Quasi-identifiers kept together")[0].level == "info"
    hour = _terms()
    _field(hour, "offence_time")["treatment"] = "generalise"
    _field(hour, "offence_time")["rule"] = "hour"
    (flag,) = _titled(_flags(hour), "Quasi-identifiers that single people out when kept together")
    assert "offence_time_hour" in flag.detail


@pytest.mark.parametrize(
    ("zone", "days", "title"),
    [
        ("landing_days", LANDING_DAYS_MAX + 1, "Raw extracts kept long"),
        ("staging_days", LONG_RETENTION_DAYS + 1, "Long retention in staging"),
        ("linkage_days", LONG_RETENTION_DAYS + 1, "Long retention in linkage"),
    ],
)
def test_long_retention_is_medium(zone: str, days: int, title: str) -> None:
    terms = _terms()
    terms["retention"][zone] = days
    (flag,) = _titled(_flags(terms), title)
    assert flag.level == "medium"
    terms["retention"][zone] = days - 1
    assert not _titled(_flags(terms), title)


def test_review_and_validity_dates() -> None:
    review, until = POLICE.review_date, POLICE.valid_until
    titles = {f.title for f in risk_flags(POLICE, review)}
    assert "Review date passed" not in titles
    (flag,) = _titled(risk_flags(POLICE, review + timedelta(days=1)), "Review date passed")
    assert flag.level == "medium"
    assert "30 September 2026" in flag.detail
    early = until - timedelta(days=VALIDITY_WARNING_DAYS + 1)
    assert not _titled(risk_flags(POLICE, early), "Agreement ends soon")
    (soon,) = _titled(
        risk_flags(POLICE, until - timedelta(days=VALIDITY_WARNING_DAYS)), "Agreement ends soon"
    )
    assert soon.level == "info"
    assert "in 60 days" in soon.detail
    (ended,) = _titled(risk_flags(POLICE, until + timedelta(days=1)), "Agreement expired")
    assert ended.level == "medium"
    assert not _titled(risk_flags(POLICE, until), "Agreement expired")


def test_today_defaults_to_the_real_date() -> None:
    assert risk_flags(POLICE) == risk_flags(POLICE, date.today())


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("None. Outputs leave the hub only as disclosure-controlled aggregates.", False),
        ("None", False),
        ("Aggregates are shared with the Home Office each quarter.", True),
    ],
)
def test_onward_sharing(text: str, flagged: bool) -> None:
    flags = risk_flags(POLICE.model_copy(update={"onward_sharing": text}), IN_FORCE)
    found = _titled(flags, "Onward sharing allowed")
    assert bool(found) is flagged
    if found:
        assert found[0].level == "medium"
        assert text in found[0].detail


def test_stricter_disclosure_is_info() -> None:
    terms = _terms()
    terms["disclosure"] = {"suppress_at_or_below": 10, "round_to": 10}
    (flag,) = _titled(_flags(terms), "Disclosure control stricter than the hub's defaults")
    assert flag.level == "info"
    assert not _titled(risk_flags(POLICE, IN_FORCE), flag.title)


_CHANGES: dict[str, Callable[[Terms], None]] = {
    "free text": lambda t: _keep(t, "mo_text"),
    "dob": lambda t: _keep(t, "date_of_birth"),
    "rows": lambda t: t["output_access"][0].update(row_level=True),
    "landing": lambda t: t["retention"].update(landing_days=60),
    "staging": lambda t: t["retention"].update(staging_days=4000),
    "onward": lambda t: t.update(onward_sharing="Shared with the Home Office."),
    "strict": lambda t: t.update(disclosure={"suppress_at_or_below": 10}),
    "no article 10": lambda t: t["lawful_basis"].pop("article10"),
}


@settings(max_examples=50, deadline=None)
@given(
    st.sets(st.sampled_from(sorted(_CHANGES))),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
)
def test_flags_are_sorted_high_first(changes: set[str], today: date) -> None:
    terms = _terms()
    for name in changes:
        _CHANGES[name](terms)
    flags = _flags(terms, today)
    levels = [LEVELS[f.level] for f in flags]
    assert levels == sorted(levels)
    assert len({(f.title, f.field) for f in flags}) == len(flags)  # no flag twice
    for flag in flags:
        assert flag.field is None or flag.field in POLICE.received_fields


# --- age bands and longitudinal projects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("bands", "narrow"),
    [
        ([0, 10, 12, 14, 16, 18, 25], "10-11, 12-13, 14-15"),
        ([0, 18, 21, 25], "18-20, 21-24"),
        ([0, 1, 5, 18], "0-0, 1-4"),
    ],
)
def test_narrow_custom_age_bands_are_medium(bands: list[int], narrow: str) -> None:
    terms = _terms()
    _field(terms, "date_of_birth")["age_bands"] = bands
    (flag,) = _titled(_flags(terms), "Narrow age bands")
    assert (flag.level, flag.field) == ("medium", "date_of_birth")
    assert f"narrower than 5 years ({narrow})" in flag.detail


@pytest.mark.parametrize(
    "bands",
    [
        [],  # the partnership's default (16-17 is narrow, but it is the partnership's own)
        [0, 10, 16, 18, 25],  # coarser, built from default bands
        [0, 18, 25, 35, 50, 65],
        [0, 20, 40, 60],
    ],
)
def test_default_and_wide_age_bands_are_not_flagged(bands: list[int]) -> None:
    terms = _terms()
    _field(terms, "date_of_birth")["age_bands"] = bands
    assert not _titled(_flags(terms), "Narrow age bands")


def test_a_longitudinal_project_is_medium_while_it_runs() -> None:
    youth = load_agreement(CONTRACTS / "youth-justice.yaml")
    (flag,) = _titled(risk_flags(youth, IN_FORCE), "People followed across releases")
    assert flag.level == "medium"
    assert "youth-violence-cohort until 31 December 2026" in flag.detail
    assert "Outputs are disclosure-controlled aggregates only." in flag.detail
    assert risk_flags(youth, date(2026, 12, 31)) != ()
    assert _titled(risk_flags(youth, date(2026, 12, 31)), flag.title)
    assert not _titled(risk_flags(youth, date(2027, 1, 1)), flag.title)  # the project ended
    assert not _titled(risk_flags(POLICE, IN_FORCE), flag.title)


def test_projects_without_an_end_run_with_the_agreement() -> None:
    terms = _terms()
    terms["longitudinal_projects"] = [
        {"name": "repeat-victims", "purpose": "Repeat victimisation"},
        {"name": "knife-crime", "purpose": "Knife crime pathways", "until": "2026-06-30"},
    ]
    terms["output_access"][0]["row_level"] = True
    (flag,) = _titled(_flags(terms), "People followed across releases")
    assert "repeat-victims until 31 March 2027; knife-crime until 30 June 2026" in flag.detail
    assert "Some outputs are pseudonymised rows" in flag.detail
