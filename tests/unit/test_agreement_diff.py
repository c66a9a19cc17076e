"""A plain-language diff between two versions of an agreement: nothing changed goes unreported."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.agreements import diff as diff_module
from hub.agreements import load_agreement
from hub.agreements.diff import AREAS, Change, diff_agreements, summarise
from hub.agreements.model import (
    Agreement,
    Classification,
    Delivery,
    Disclosure,
    FieldQuality,
    FieldSpec,
    Flag,
    GeneraliseRule,
    LawfulBasis,
    LinkageKey,
    LongitudinalProject,
    OutputAccess,
    Party,
    Publication,
    Retention,
    Role,
    Treatment,
)
from tests.conftest import CONTRACTS

CONTRACT_FILES = sorted(CONTRACTS.glob("*.yaml"))
POLICE = load_agreement(CONTRACTS / "police-sv.yaml")


def _terms(name: str = "police-sv") -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text("utf-8"))
    return doc


def _field(terms: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in terms["fields"] if f["name"] == name)
    return found


def _texts(changes: tuple[Change, ...]) -> list[str]:
    return [c.text for c in changes]


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.stem)
def test_identical_agreements_have_no_changes(path: Path) -> None:
    agreement = load_agreement(path)
    assert diff_agreements(agreement, agreement) == ()
    copy = Agreement.model_validate(yaml.safe_load(path.read_text("utf-8")))
    assert diff_agreements(agreement, copy) == ()
    assert summarise(()) == "No changes to the terms."


def test_every_top_level_term_has_an_area() -> None:
    assert set(AREAS) == set(Agreement.model_fields)


def _police_party(**lead: str) -> Party:
    party = POLICE.party("merseyvale-police")
    return party.model_copy(
        update={"data_protection_lead": party.data_protection_lead.model_copy(update=lead)}
    )


# One changed value for every top-level term of the model, and the area its change belongs to.
EVERY_TERM: dict[str, tuple[object, str]] = {
    "id": ("police-sv-2", "agreement"),
    "version": (2, "version"),
    "title": ("Police-recorded violence", "title"),
    "provider": ("merseyvale-vrp", "parties"),
    "hub_controller": ("merseyvale-police", "parties"),
    "parties": (
        (POLICE.parties[0], POLICE.parties[1].model_copy(update={"role": Role.PROCESSOR})),
        "parties",
    ),
    "purpose": ("Reduce serious violence.", "purpose"),
    "lawful_basis": (
        POLICE.lawful_basis.model_copy(update={"statutory_gateway": "Crime and Disorder Act"}),
        "lawful basis",
    ),
    "data_subjects": (("victims of crime", "suspects", "witnesses"), "data subjects"),
    "valid_from": (date(2025, 5, 1), "validity"),
    "valid_until": (date(2028, 3, 31), "validity"),
    "review_date": (date(2027, 3, 31), "review"),
    "delivery": (POLICE.delivery.model_copy(update={"format": "parquet"}), "delivery"),
    "fields": (POLICE.fields[:-1], "field"),
    "quality_rules": ((), "quality"),
    "linkage_keys": (POLICE.linkage_keys[:1], "linkage"),
    "retention": (POLICE.retention.model_copy(update={"published_days": 3650}), "retention"),
    "onward_sharing": ("Shared with the Home Office each quarter.", "onward sharing"),
    "output_access": (
        (OutputAccess(who="community safety partnership", purpose="Problem profiles"),),
        "output access",
    ),
    "longitudinal_projects": (
        (LongitudinalProject(name="youth-cohort", purpose="Cohort evaluation"),),
        "longitudinal projects",
    ),
    "disclosure": (Disclosure(suppress_at_or_below=10), "disclosure"),
    "publication": (
        POLICE.publication.model_copy(update={"home_area_field": None}),
        "publication",
    ),
    "change_note": ("First revision.", "change note"),
}


def test_the_table_covers_every_top_level_term() -> None:
    assert set(EVERY_TERM) == set(Agreement.model_fields)


@pytest.mark.parametrize("term", sorted(EVERY_TERM))
def test_a_change_to_any_term_is_reported_in_its_area(term: str) -> None:
    value, area = EVERY_TERM[term]
    changed = POLICE.model_copy(update={term: value})
    changes = diff_agreements(POLICE, changed)
    assert changes, term
    assert {c.area for c in changes} == {area}
    back = diff_agreements(changed, POLICE)
    assert back and {c.area for c in back} == {area}
    assert all(c.text and "\n" not in c.text for c in changes + back)


def test_a_term_without_its_own_wording_is_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(diff_module._DIFFERS, "title")
    changes = diff_agreements(POLICE, POLICE.model_copy(update={"title": "New title"}))
    assert changes == (
        Change("changed", "title", f"title: {POLICE.title} → New title", significant=True),
    )


# One changed value for every attribute of a field.
EVERY_FIELD_ATTRIBUTE: dict[str, object] = {
    "description": "Date of birth",
    "column": "Date of Birth",
    "type": "date",
    "classification": Classification.DIRECT_IDENTIFIER,
    "treatment": Treatment.PSEUDONYMISE,
    "identifier": None,
    "rule": GeneraliseRule.AGE,
    "relative_to": "recorded_date",
    "output": "age_years",
    "required": True,
    "formats": ("%d/%m/%Y",),
    "justification": "Needed to compute ages",
    "quality": FieldQuality(not_in_future=True),
    "age_bands": (0, 18, 25),
}


@pytest.mark.parametrize("attribute", sorted(EVERY_FIELD_ATTRIBUTE))
def test_a_change_to_any_field_attribute_is_reported(attribute: str) -> None:
    assert set(EVERY_FIELD_ATTRIBUTE) == set(FieldSpec.model_fields) - {"name"}
    dob = POLICE.field("date_of_birth")
    changed = dob.model_copy(update={attribute: EVERY_FIELD_ATTRIBUTE[attribute]})
    fields = tuple(changed if f.name == dob.name else f for f in POLICE.fields)
    changes = diff_agreements(POLICE, POLICE.model_copy(update={"fields": fields}))
    assert changes
    assert all(c.text.startswith("field date_of_birth: ") for c in changes)
    assert {c.area for c in changes} <= {"field", "quality"}


def _version_two() -> Agreement:
    terms = _terms()
    terms["version"] = 2
    terms["fields"].append(
        {
            "name": "ethnicity",
            "description": "Self-defined ethnicity",
            "classification": "special_category",
            "treatment": "keep",
            "justification": "Disproportionality analysis",
        }
    )
    terms["fields"] = [f for f in terms["fields"] if f["name"] != "mo_text"]
    dob = _field(terms, "date_of_birth")
    for key in ("rule", "relative_to", "output"):
        del dob[key]
    dob["treatment"] = "pseudonymise"
    terms["retention"]["staging_days"] = 3650
    terms["valid_until"] = "2028-03-31"
    terms["parties"][0]["data_protection_lead"]["name"] = "Jo Bloggs"
    terms["purpose"] += " And to evaluate interventions."
    terms["lawful_basis"]["article9"] = "9(2)(g) substantial public interest"
    terms["disclosure"]["suppress_at_or_below"] = 10
    terms["change_note"] = "Adds ethnicity for disproportionality analysis."
    return Agreement.model_validate(terms)


def test_the_changes_of_a_new_version_in_words() -> None:
    changes = diff_agreements(POLICE, _version_two())
    assert [(c.kind, c.area, c.text, c.significant) for c in changes] == [
        ("changed", "version", "version 1 → 2", False),
        (
            "changed",
            "parties",
            "data protection lead of merseyvale-police: Priya Raman → Jo Bloggs",
            True,
        ),
        ("changed", "purpose", "purpose reworded", True),
        (
            "added",
            "lawful basis",
            "Article 9 condition added: 9(2)(g) substantial public interest",
            True,
        ),
        ("changed", "validity", "valid until 2027-03-31 → 2028-03-31", True),
        ("added", "field", "adds field ethnicity (special category data), kept as sent", True),
        ("removed", "field", "removes field mo_text", False),
        (
            "changed",
            "field",
            "field date_of_birth: treatment generalise (age band) → pseudonymise",
            True,
        ),
        ("changed", "retention", "retention in staging 7 → 10 years", True),
        ("changed", "disclosure", "disclosure: suppress counts at or below 7 → 10", False),
        (
            "added",
            "change note",
            "change note added: Adds ethnicity for disproportionality analysis.",
            False,
        ),
    ]


def test_summary_puts_significant_changes_first() -> None:
    text = summarise(diff_agreements(POLICE, _version_two()))
    assert text.startswith("This version makes 11 changes, 7 of them significant. Significant: ")
    assert text.index("adds field ethnicity") < text.index("Other changes: ")
    assert text.index("Other changes: ") < text.index("version 1 → 2")
    assert "\n" not in text
    assert ".." not in text
    only_minor = summarise(diff_agreements(POLICE, POLICE.model_copy(update={"version": 2})))
    assert only_minor == (
        "This version makes 1 change, none of them significant. Changes: version 1 → 2."
    )


def test_parties_added_removed_and_changed() -> None:
    ambulance = load_agreement(CONTRACTS / "ambulance-assaults.yaml").parties[0]
    added = POLICE.model_copy(update={"parties": (*POLICE.parties, ambulance)})
    assert _texts(diff_agreements(POLICE, added)) == [
        "adds party merseyvale-ambulance (Merseyvale Ambulance Service NHS Trust, controller)"
    ]
    assert _texts(diff_agreements(added, POLICE)) == ["removes party merseyvale-ambulance"]
    email = POLICE.model_copy(
        update={"parties": (_police_party(email="new@police.example"), POLICE.parties[1])}
    )
    (change,) = diff_agreements(POLICE, email)
    assert change.text == (
        "data protection lead of merseyvale-police: email dpo@merseyvale-police.example → "
        "new@police.example"
    )
    assert change.significant  # the lead's email is who may sign
    title = POLICE.model_copy(
        update={"parties": (_police_party(title="Data Protection Officer"), POLICE.parties[1])}
    )
    assert not diff_agreements(POLICE, title)[0].significant
    swapped = POLICE.model_copy(update={"parties": POLICE.parties[::-1]})
    assert _texts(diff_agreements(POLICE, swapped)) == ["parties reordered"]


def test_lawful_basis_removed_and_reworded() -> None:
    basis = LawfulBasis(
        article6="6(1)(c) legal obligation",
        statutory_gateway=POLICE.lawful_basis.statutory_gateway,
    )
    texts = _texts(diff_agreements(POLICE, POLICE.model_copy(update={"lawful_basis": basis})))
    assert texts[0] == "Article 6 condition: 6(1)(e) public task → 6(1)(c) legal obligation"
    assert texts[1].startswith("Article 10 condition removed (was: DPA 2018 Schedule 1")


def test_field_changes_in_words() -> None:
    terms = _terms()
    _field(terms, "date_of_birth")["rule"] = "age"
    _field(terms, "sex")["classification"] = "special_category"
    _field(terms, "offence_time")["treatment"] = "generalise"
    _field(terms, "offence_time")["rule"] = "hour"
    _field(terms, "recorded_date")["required"] = True
    _field(terms, "involvement")["quality"]["allowed_values"].append("Witness")
    _field(terms, "lsoa_code")["quality"] = {"pattern": "E0[0-9]{7}"}
    terms["fields"].append(
        {
            "name": "notes",
            "description": "Notes",
            "classification": "free_text",
            "treatment": "drop",
        }
    )
    changes = diff_agreements(POLICE, Agreement.model_validate(terms))
    assert [(c.area, c.text, c.significant) for c in changes] == [
        ("field", "adds field notes (free text), not stored", False),
        ("field", "field date_of_birth: generalised to age band → age in years", True),
        ("field", "field sex: classification quasi-identifier → special category data", True),
        ("field", "field offence_time: treatment keep → generalise (hour of day)", True),
        ("field", "field recorded_date: now required", False),
        (
            "quality",
            "field involvement: quality allowed values Victim, Suspect → Victim, Suspect, Witness",
            False,
        ),
        (
            "quality",
            "field lsoa_code: adds quality rules (lsoa_code must match the pattern E0[0-9]{7}. "
            "Warning: failures are reported to the partner; the extract is accepted.)",
            False,
        ),
    ]


def test_fields_reordered() -> None:
    reordered = POLICE.model_copy(update={"fields": POLICE.fields[::-1]})
    assert _texts(diff_agreements(POLICE, reordered)) == ["fields reordered"]


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(POLICE.received_fields)))
def test_removing_fields_is_reported_field_by_field(removed: set[str]) -> None:
    smaller = POLICE.model_copy(
        update={"fields": tuple(f for f in POLICE.fields if f.name not in removed)}
    )
    changes = diff_agreements(POLICE, smaller)
    assert sorted(_texts(changes)) == sorted(f"removes field {name}" for name in removed)
    back = diff_agreements(smaller, POLICE)
    assert {c.kind for c in back} <= {"added"}
    assert len(back) == len(removed)
    assert all(c.text.startswith("adds field ") for c in back)


@pytest.mark.parametrize(
    ("old", "new", "text", "significant"),
    [
        (14, 30, "retention in landing 14 → 30 days", True),
        (30, 14, "retention in landing 30 → 14 days", False),
        (14, 365, "retention in landing 14 days → 1 year", True),
        (0, 14, "retention in landing 0 → 14 days", True),
    ],
)
def test_retention_changes(old: int, new: int, text: str, significant: bool) -> None:
    before = POLICE.model_copy(
        update={"retention": POLICE.retention.model_copy(update={"landing_days": old})}
    )
    after = POLICE.model_copy(
        update={"retention": Retention(**(POLICE.retention.model_dump() | {"landing_days": new}))}
    )
    assert [(c.text, c.significant) for c in diff_agreements(before, after)] == [
        (text, significant)
    ]


def test_output_access_changes() -> None:
    access = POLICE.output_access[0]
    rows = POLICE.model_copy(
        update={"output_access": (access.model_copy(update={"row_level": True}),)}
    )
    (change,) = diff_agreements(POLICE, rows)
    assert change.text == (
        "output access for partnership analyst network: aggregates only → pseudonymised rows"
    )
    assert change.significant
    assert not diff_agreements(rows, POLICE)[0].significant
    more = OutputAccess(who="youth offending team", purpose="Caseload", row_level=True)
    added = POLICE.model_copy(update={"output_access": (access, more)})
    assert _texts(diff_agreements(POLICE, added)) == [
        "adds output access for youth offending team (pseudonymised rows)"
    ]


def test_delivery_disclosure_linkage_and_publication_changes() -> None:
    changed = POLICE.model_copy(
        update={
            "delivery": Delivery(format="csv", schedule="0 6 2 * *", late_after_hours=72),
            "disclosure": Disclosure(round_to=10),
            "linkage_keys": (
                *POLICE.linkage_keys,
                LinkageKey(name="nhs", parts=("nhs_number",)),
            ),
            "publication": POLICE.publication.model_copy(
                update={
                    "flags": {**POLICE.publication.flags, "gang": Flag(field="gang_flag")},
                    "event_hour_field": None,
                }
            ),
        }
    )
    assert _texts(diff_agreements(POLICE, changed)) == [
        "delivery schedule: at 05:00, on day 2 of the month → at 06:00, on day 2 of the month",
        "delivery late after 2 days → 3 days",
        "adds linkage key nhs (NHS number)",
        "disclosure: round counts to the nearest 5 → 10",
        "publication: event hour field offence_time → none",
        "publication: adds flag gang (from gang_flag)",
    ]


def test_quality_rule_and_data_subject_changes() -> None:
    terms = _terms()
    terms["quality_rules"][0]["must_be"] = "after"
    terms["data_subjects"] = ["victims of crime"]
    texts = _texts(diff_agreements(POLICE, Agreement.model_validate(terms)))
    assert texts == [
        "removes data subjects: suspects",
        "quality rule recorded_after_offence: must be on or after → after",
    ]


def test_publication_model_is_fully_walked() -> None:
    # Every non-flag publication attribute change is worded "publication: <attribute> a → b".
    for attr in Publication.model_fields:
        if attr in {"flags", "event_date_field"}:
            continue
        value = "something_else"
        changed = POLICE.model_copy(
            update={"publication": POLICE.publication.model_copy(update={attr: value})}
        )
        (change,) = diff_agreements(POLICE, changed)
        assert change.text.startswith(f"publication: {attr.replace('_', ' ')} ")


def _with_dob(agreement: Agreement, **update: object) -> Agreement:
    dob = agreement.field("date_of_birth").model_copy(update=update)
    fields = tuple(dob if f.name == dob.name else f for f in agreement.fields)
    return agreement.model_copy(update={"fields": fields})


DEFAULT_WORDS = "0-9, 10-15, 16-17, 18-24, 25-34, 35-49, 50-64, 65+ (the hub's default)"


@pytest.mark.parametrize(
    ("old", "new", "text", "significant"),
    [
        ((), (0, 18, 25), f"{DEFAULT_WORDS} → 0-17, 18-24, 25+", False),
        ((0, 18, 25), (), f"0-17, 18-24, 25+ → {DEFAULT_WORDS}", True),
        ((0, 10, 18), (0, 10, 12, 14, 16, 18), "0-9, 10-17, 18+ → 0-9, 10-11, 12-13, 14-15, "
         "16-17, 18+", True),
        ((0, 10, 12, 14, 16, 18), (0, 10, 18), "0-9, 10-11, 12-13, 14-15, 16-17, 18+ → "
         "0-9, 10-17, 18+", False),
        ((0, 18), (0, 21), "0-17, 18+ → 0-20, 21+", True),
        ((), (0, 10, 16, 18, 25, 35, 50, 65),
         f"{DEFAULT_WORDS} → 0-9, 10-15, 16-17, 18-24, 25-34, 35-49, 50-64, 65+ (the same bands)",
         False),
        ((0, 18), (5, 18), "0-17, 18+ → bands starting at 5, 18 (not valid)", True),
    ],
)  # fmt: skip
def test_age_band_changes(
    old: tuple[int, ...], new: tuple[int, ...], text: str, significant: bool
) -> None:
    """Finer bands show more about a person's age: significant; coarser ones are not."""
    (change,) = diff_agreements(_with_dob(POLICE, age_bands=old), _with_dob(POLICE, age_bands=new))
    assert (change.area, change.text, change.significant) == (
        "field",
        f"field date_of_birth: age bands {text}",
        significant,
    )


def test_age_bands_dropped_with_their_rule_are_not_reported_twice() -> None:
    banded = _with_dob(POLICE, age_bands=(0, 18))
    aged = _with_dob(POLICE, rule=GeneraliseRule.AGE, age_bands=())
    assert _texts(diff_agreements(banded, aged)) == [
        "field date_of_birth: generalised to age band → age in years"
    ]


COHORT = LongitudinalProject(
    name="youth-cohort",
    purpose="Evaluation of the youth violence cohort programme.",
    until=date(2026, 12, 31),
)


def test_adding_a_longitudinal_project_is_significant() -> None:
    added = POLICE.model_copy(update={"longitudinal_projects": (COHORT,)})
    (change,) = diff_agreements(POLICE, added)
    assert (change.kind, change.area, change.significant) == (
        "added",
        "longitudinal projects",
        True,
    )
    assert change.text == (
        "adds longitudinal project youth-cohort: analysts may follow the same people across "
        "releases until 2026-12-31, for evaluation of the youth violence cohort programme"
    )
    (removed,) = diff_agreements(added, POLICE)
    assert (removed.kind, removed.text, removed.significant) == (
        "removed",
        "removes longitudinal project youth-cohort",
        False,
    )
    assert "youth-cohort" in summarise(diff_agreements(POLICE, added)).split("Significant: ")[1]


@pytest.mark.parametrize(
    ("update", "text", "significant"),
    [
        ({"until": date(2027, 3, 1)}, "until 2026-12-31 → 2027-03-01", True),
        ({"until": date(2026, 6, 30)}, "until 2026-12-31 → 2026-06-30", False),
        ({"until": None}, "until 2026-12-31 → 2027-03-31", True),  # the agreement's end
        ({"until": date(2030, 1, 1)}, "until 2026-12-31 → 2027-03-31", True),  # capped by it
        ({"purpose": "Something else"}, "purpose reworded", True),
    ],
)
def test_longitudinal_project_changes(
    update: dict[str, object], text: str, significant: bool
) -> None:
    before = POLICE.model_copy(update={"longitudinal_projects": (COHORT,)})
    after = POLICE.model_copy(update={"longitudinal_projects": (COHORT.model_copy(update=update),)})
    (change,) = diff_agreements(before, after)
    assert (change.area, change.text, change.significant) == (
        "longitudinal projects",
        f"longitudinal project youth-cohort: {text}",
        significant,
    )


def test_an_end_date_that_changes_nothing_is_still_reported() -> None:
    late = COHORT.model_copy(update={"until": date(2030, 1, 1)})
    before = POLICE.model_copy(update={"longitudinal_projects": (late,)})
    after = POLICE.model_copy(
        update={"longitudinal_projects": (late.model_copy(update={"until": None}),)}
    )
    (change,) = diff_agreements(before, after)
    assert change.text == (
        "longitudinal project youth-cohort: end date 2030-01-01 → none (still 2027-03-31)"
    )
    assert not change.significant


def test_longitudinal_projects_reordered() -> None:
    other = LongitudinalProject(name="repeat-victims", purpose="Repeat victimisation")
    one = POLICE.model_copy(update={"longitudinal_projects": (COHORT, other)})
    two = POLICE.model_copy(update={"longitudinal_projects": (other, COHORT)})
    assert _texts(diff_agreements(one, two)) == ["longitudinal projects reordered"]
