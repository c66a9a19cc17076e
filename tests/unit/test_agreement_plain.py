"""The agreement in plain words: every model value has words, and the real agreements read right."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hub.agreements import load_agreement
from hub.agreements.model import (
    Agreement,
    Classification,
    CrossFieldRule,
    Delivery,
    Disclosure,
    FieldSpec,
    FieldType,
    GeneraliseRule,
    IdentifierType,
    LawfulBasis,
    Publication,
    Retention,
    Role,
    Severity,
    Treatment,
)
from hub.agreements.plain import (
    CLASSIFICATION_WORDS,
    FORMAT_WORDS,
    IDENTIFIER_WORDS,
    LAWFUL_BASIS_LABELS,
    LOCAL_IDENTIFIERS,
    MUST_BE_WORDS,
    PUBLICATION_WORDS,
    ROLE_WORDS,
    RULE_EFFECTS,
    RULE_WORDS,
    SEVERITY_WORDS,
    TREATMENT_WORDS,
    TYPE_WORDS,
    ZONE_WORDS,
    PlainAgreement,
    age_bands_words,
    describe,
    disclosure_words,
    duration,
    field_quality_words,
    hours_words,
    is_no_onward_sharing,
    schedule_words,
    what_happens,
)
from hub.pipeline.identifiers import SHARED_DOMAINS
from tests.conftest import CONTRACTS

CONTRACT_FILES = sorted(CONTRACTS.glob("*.yaml"))
POLICE = load_agreement(CONTRACTS / "police-sv.yaml")
ED = load_agreement(CONTRACTS / "ed-assaults.yaml")


def _terms(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text("utf-8"))
    return doc


def _spec(**values: Any) -> FieldSpec:
    base: dict[str, Any] = {
        "name": "x",
        "description": "X",
        "classification": "operational",
        "treatment": "keep",
    }
    return FieldSpec.model_validate(base | values)


def _strings(value: object) -> list[str]:
    """Every string inside a plain agreement (dataclasses and tuples, recursively)."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, tuple):
        return [s for item in value for s in _strings(item)]
    return []


# --- the vocabulary is exhaustive -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "members"),
    [
        (CLASSIFICATION_WORDS, set(Classification)),
        (TREATMENT_WORDS, set(Treatment)),
        (RULE_WORDS, set(GeneraliseRule)),
        (RULE_EFFECTS, set(GeneraliseRule)),
        (IDENTIFIER_WORDS, set(IdentifierType)),
        (ROLE_WORDS, set(Role)),
        (SEVERITY_WORDS, set(Severity)),
        (TYPE_WORDS, set(get_args(FieldType))),
        (FORMAT_WORDS, set(get_args(Delivery.model_fields["format"].annotation))),
        (MUST_BE_WORDS, set(get_args(CrossFieldRule.model_fields["must_be"].annotation))),
        (LAWFUL_BASIS_LABELS, set(LawfulBasis.model_fields)),
        (ZONE_WORDS, set(Retention.model_fields)),
        (PUBLICATION_WORDS, set(Publication.model_fields)),
    ],
)
def test_every_model_value_has_words(words: dict[Any, str], members: set[Any]) -> None:
    assert set(words) == members
    assert all(text.strip() for text in words.values())


def test_local_identifiers_are_those_the_pipeline_hashes_per_provider() -> None:
    assert set(IdentifierType) - SHARED_DOMAINS == LOCAL_IDENTIFIERS


def test_the_vocabulary_speaks_the_briefs_words() -> None:
    assert CLASSIFICATION_WORDS[Classification.SPECIAL_CATEGORY] == "special category data"
    assert CLASSIFICATION_WORDS[Classification.CRIMINAL_OFFENCE] == "criminal offence data"
    assert CLASSIFICATION_WORDS[Classification.QUASI_IDENTIFIER] == "quasi-identifier"
    assert ROLE_WORDS[Role.JOINT_CONTROLLER] == "joint controller"


# --- every real agreement -------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.stem)
def test_every_real_agreement_reads_in_plain_words(path: Path) -> None:
    agreement = load_agreement(path)
    plain = describe(agreement)
    assert isinstance(plain, PlainAgreement)
    assert [f.name for f in plain.fields] == list(agreement.received_fields)
    for field, spec in zip(plain.fields, agreement.fields, strict=True):
        assert field.classification == CLASSIFICATION_WORDS[spec.classification]
        assert field.what_happens.endswith(".")
        assert field.required is spec.required
        assert field.stored_as == spec.staged_name
    assert [p.org for p in plain.parties] == [p.org for p in agreement.parties]
    assert sum(p.is_provider for p in plain.parties) == 1
    assert sum(p.is_hub_controller for p in plain.parties) == 1
    assert plain.lawful_basis[0] == ("UK GDPR Article 6 condition", agreement.lawful_basis.article6)
    assert plain.lawful_basis[-1][0] == "Statutory gateway"
    assert len(plain.retention) == 4
    assert plain.output_access
    texts = _strings(plain)
    # No markup, and no raw codes where words belong.
    assert not any("<" in t or ">" in t for t in texts)
    codes = {c.value for c in Classification if CLASSIFICATION_WORDS[c] != c.value}
    codes |= {r.value for r in Role if ROLE_WORDS[r] != r.value}
    assert not any(t in codes for t in texts)
    assert "_" not in plain.summary


def test_a_plain_agreement_is_frozen() -> None:
    plain = describe(POLICE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.fields[0].what_happens = "changed"  # type: ignore[misc]


def test_police_agreement_in_words() -> None:
    plain = describe(POLICE)
    assert plain.title == POLICE.title
    assert plain.version == "police-sv, version 1"
    police, hub = plain.parties
    assert (police.role, police.is_provider, police.is_hub_controller) == (
        "controller",
        True,
        False,
    )
    assert (hub.role, hub.is_provider, hub.is_hub_controller) == ("joint controller", False, True)
    assert police.lead_name == "Priya Raman"
    assert police.lead_email == "dpo@merseyvale-police.example"
    assert [label for label, _ in plain.lawful_basis] == [
        "UK GDPR Article 6 condition",
        "Article 10 condition (criminal offence data)",
        "Statutory gateway",
    ]
    assert plain.data_subjects == "victims of crime and suspects"
    assert "Merseyvale Police shares records about victims of crime and suspects" in plain.summary
    assert "criminal offence data" in plain.summary
    assert "aggregates only" in plain.summary
    assert plain.delivery == (
        "A CSV extract is due at 05:00, on day 2 of the month (Europe/London time), "
        "and is late after 2 days."
    )
    assert plain.retention == (
        ("Landing zone (extracts as received, encrypted)", "14 days"),
        ("Staging (pseudonymised records)", "7 years"),
        ("Linkage zone (keyed hashes used only for matching)", "7 years"),
        ("Published releases (for analysts)", "7 years"),
    )
    assert plain.disclosure == (
        "Counts of 7 or fewer are suppressed; other counts are rounded to the nearest 5."
    )
    assert plain.validity.startswith("In force from 1 April 2025 to 31 March 2027 inclusive")
    assert "Merseyvale Police and Merseyvale Violence Reduction Partnership" in plain.validity
    assert plain.review == "To be reviewed by 30 September 2026."
    assert plain.onward_sharing.startswith("None.")
    assert plain.change_note is None
    assert "aggregates only" in plain.output_access[0]
    assert any(
        "first letter of forename + surname + date of birth + sex" in x for x in plain.linkage
    )
    assert "dated by offence_date" in plain.publication
    assert "knife (from knife_flag)" in plain.publication


def test_police_fields_in_words() -> None:
    fields = {f.name: f for f in describe(POLICE).fields}
    dob = fields["date_of_birth"].what_happens
    assert dob.startswith("Reduced to an age band (0-9, 10-15, ")
    assert "at the date of offence_date; the date of birth itself is not kept." in dob
    assert dob.endswith("Also used, hashed, for linking.")
    assert fields["home_postcode"].what_happens.startswith(
        "Reduced to the LSOA (neighbourhood of about 1,500 people)"
    )
    assert fields["home_postcode"].stored_as == "home_lsoa"
    assert fields["mo_text"].what_happens == "Not stored: read and discarded on arrival."
    assert fields["mo_text"].classification == "free text"
    assert fields["mo_text"].stored_as is None
    assert fields["offence_type"].what_happens == "Kept as sent."
    assert fields["offence_type"].classification == "criminal offence data"
    assert fields["sex"].what_happens.endswith("Also used, hashed, for linking.")
    assert fields["knife_flag"].type == "yes/no flag"
    assert fields["person_urn"].what_happens.startswith("Trimmed and put in upper case")
    assert fields["crime_reference"].required
    assert fields["pnc_id"].identifier == "Police National Computer ID"


def test_nhs_number_in_words() -> None:
    nhs = next(f for f in describe(ED).fields if f.name == "nhs_number")
    assert nhs.what_happens == (
        "Checked and normalised, then replaced by a keyed hash (HMAC-SHA256) kept only for "
        "linking; never stored or published as sent."
    )
    assert nhs.classification == "direct identifier"
    assert nhs.identifier == "NHS number"


def test_quality_rules_in_words() -> None:
    quality = describe(POLICE).quality
    assert quality[0].startswith("Every extract must have the columns crime_reference, person_urn")
    assert (
        "involvement must be one of Victim, Suspect. Critical: an extract that fails is "
        "quarantined" in quality[1]
    )
    assert quality[2].startswith("offence_date must not be later than the day the extract arrives.")
    assert quality[3].startswith(
        "A crime is recorded on or after the day the offence was committed "
        "(recorded_date must be on or after offence_date). Warning:"
    )
    ed = describe(ED).quality
    assert any("(period_end must be on or after period_start). Critical" in q for q in ed)


def test_field_quality_words_for_every_kind_of_rule() -> None:
    spec = _spec(
        quality={"pattern": "[A-Z]{2}", "minimum": 0, "maximum": 1.5, "unique": True},
    )
    assert field_quality_words(spec) == (
        "x must match the pattern [A-Z]{2} and be between 0 and 1.5 and be unique within each "
        "extract. Warning: failures are reported to the partner; the extract is accepted."
    )
    assert field_quality_words(_spec(quality={"minimum": 1})) is not None
    assert "be at least 1." in (field_quality_words(_spec(quality={"minimum": 1})) or "")
    assert "be at most 9." in (field_quality_words(_spec(quality={"maximum": 9})) or "")
    assert field_quality_words(_spec(quality={"severity": "critical"})) is None
    assert field_quality_words(_spec()) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"treatment": "drop"}, "Not stored: read and discarded on arrival."),
        ({"treatment": "keep"}, "Kept as sent."),
        (
            {"treatment": "keep", "identifier": "sex"},
            "Kept, normalised to a standard form. Also used, hashed, for linking.",
        ),
        (
            {"treatment": "generalise", "rule": "age_band"},
            "at the date of the event; the date of birth itself is not kept.",
        ),
        ({"treatment": "generalise", "rule": "birth_year"}, "Reduced to the year of birth;"),
        ({"treatment": "generalise", "rule": "postcode_district"}, "postcode district"),
        ({"treatment": "generalise", "rule": "hour"}, "hour of day"),
        ({"treatment": "generalise", "rule": "age_band_from_age"}, "the exact age is not kept."),
        (
            {"treatment": "pseudonymise", "identifier": "record_id"},
            "kept only for linking this partner's own records",
        ),
        (
            {"treatment": "pseudonymise", "identifier": "upn"},
            "Checked and normalised, then replaced by a keyed hash (HMAC-SHA256)",
        ),
    ],
)
def test_what_happens_to_one_field(values: dict[str, Any], expected: str) -> None:
    words = what_happens(_spec(**values))
    assert expected in words
    assert ("for linking" in words) is ("identifier" in values)


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (0, "0 days"),
        (1, "1 day"),
        (14, "14 days"),
        (30, "30 days"),
        (59, "59 days"),
        (60, "2 months"),
        (90, "3 months"),
        (100, "100 days"),
        (180, "6 months"),
        (183, "6 months"),
        (365, "1 year"),
        (366, "1 year"),
        (548, "18 months"),
        (730, "2 years"),
        (1000, "1,000 days"),
        (2555, "7 years"),
        (2557, "7 years"),
        (3650, "10 years"),
        (3653, "10 years"),
        (3654, "3,654 days"),
    ],
)
def test_durations_in_words(days: int, words: str) -> None:
    assert duration(days) == words


_UNIT_DAYS = {"day": 1.0, "month": 30.4375, "year": 365.25}


@given(st.integers(min_value=0, max_value=40_000))
def test_durations_never_misstate_a_period(days: int) -> None:
    number, unit = duration(days).split(" ")
    count = int(number.replace(",", ""))
    unit = unit.rstrip("s")
    assert unit in _UNIT_DAYS
    if unit == "day":
        assert count == days
    elif unit == "month":
        assert days == count * 30 or abs(days - count * _UNIT_DAYS["month"]) <= 1.5
    else:
        assert count * 365 <= days <= count * 366


@pytest.mark.parametrize(
    ("hours", "words"), [(1, "1 hour"), (24, "1 day"), (36, "36 hours"), (48, "2 days")]
)
def test_hours_in_words(hours: int, words: str) -> None:
    assert hours_words(hours) == words


def test_schedules_in_words() -> None:
    assert schedule_words("0 6 * * 1") == "at 06:00, only on Monday"
    assert schedule_words("@daily") == "every day at 00:00"
    assert schedule_words("not a cron") == "on the schedule 'not a cron'"


def test_delivery_with_a_date_format_and_another_timezone() -> None:
    terms = _terms("police-sv")
    terms["delivery"] |= {"date_format": "%d/%m/%Y", "timezone": "UTC", "late_after_hours": 36}
    plain = describe(Agreement.model_validate(terms))
    assert "(UTC time)" in plain.delivery
    assert "late after 36 hours." in plain.delivery
    assert plain.delivery.endswith("Dates are written DD/MM/YYYY.")


def test_disclosure_in_words() -> None:
    assert "stricter than the hub's defaults" in disclosure_words(
        Disclosure(suppress_at_or_below=10, round_to=10)
    )
    assert disclosure_words(Disclosure(suppress_at_or_below=0, round_to=1)) == (
        "No counts are suppressed; counts are not rounded."
    )


def test_row_level_output_and_special_category_in_words() -> None:
    terms = _terms("ed-assaults")
    terms["output_access"][0]["row_level"] = True
    terms["change_note"] = "Row-level access for the analyst network."
    plain = describe(Agreement.model_validate(terms))
    assert "pseudonymised row-level data" in plain.output_access[0]
    assert "pseudonymised rows" in plain.summary
    assert "special category data" in plain.summary
    assert plain.change_note == "Row-level access for the analyst network."
    assert ("Article 9 condition (special category data)", terms["lawful_basis"]["article9"]) in (
        plain.lawful_basis
    )


@pytest.mark.parametrize(
    ("text", "none"),
    [
        ("None", True),
        ("None. Outputs leave the hub only as aggregates.", True),
        ("none", True),
        ("Nonetheless shared with the Home Office", False),
        ("Shared with the Home Office quarterly", False),
    ],
)
def test_onward_sharing_none(text: str, none: bool) -> None:
    assert is_no_onward_sharing(text) is none


def test_summary_counts_each_treatment() -> None:
    summary = describe(POLICE).summary
    counts = {t: sum(f.treatment is t for f in POLICE.fields) for t in Treatment}
    assert re.search(rf"{counts[Treatment.PSEUDONYMISE]} are replaced by keyed hashes", summary)
    assert f"{counts[Treatment.KEEP]} are kept as sent" in summary
    assert f"Of its {len(POLICE.fields)} data items" in summary


# --- age bands and longitudinal projects ----------------------------------------------------------


def test_a_fields_own_age_bands_are_the_ones_described() -> None:
    bands = _spec(treatment="generalise", rule="age_band", relative_to="d", age_bands=[0, 18, 25])
    assert what_happens(bands).startswith(
        "Reduced to an age band (0-17, 18-24, 25+) at the date of d;"
    )
    from_age = _spec(treatment="generalise", rule="age_band_from_age", age_bands=[0, 10, 18])
    assert what_happens(from_age) == (
        "Reduced to an age band (0-9, 10-17, 18+); the exact age is not kept."
    )
    default = _spec(treatment="generalise", rule="age_band_from_age")
    assert "(0-9, 10-15, 16-17, 18-24, 25-34, 35-49, 50-64, 65+)" in what_happens(default)


def test_age_bands_the_checker_refuses_are_quoted_not_invented() -> None:
    assert age_bands_words((5, 18)) == "bands starting at 5, 18 (not valid)"
    assert age_bands_words(()) == "0-9, 10-15, 16-17, 18-24, 25-34, 35-49, 50-64, 65+"


def test_without_a_project_analysts_cannot_follow_people() -> None:
    plain = describe(POLICE)
    assert plain.longitudinal == (
        "Analysts cannot follow people from one release to the next: every release gives "
        "everyone new person keys.",
    )
    assert "follow" not in plain.summary


def test_a_longitudinal_project_in_words() -> None:
    plain = describe(load_agreement(CONTRACTS / "youth-justice.yaml"))
    project, everyone = plain.longitudinal
    assert project.startswith(
        "Analysts of project youth-violence-cohort may follow the same people across releases "
        "until 31 December 2026, for evaluation of the youth violence prevention programme: "
    )
    assert project.endswith(".") and ".." not in project
    assert everyone == (
        "Everyone else gets new person keys in every release, so releases cannot be joined."
    )
    assert plain.summary.endswith(
        "Analysts of project youth-violence-cohort may follow the same people from one release "
        "to the next."
    )


def test_a_project_without_an_end_runs_until_the_agreement_ends() -> None:
    terms = _terms("police-sv")
    terms["longitudinal_projects"] = [
        {"name": "repeat-victims", "purpose": "Repeat victimisation of under-25s."},
        {"name": "knife-crime", "purpose": "SVD knife crime pathways", "until": "2026-03-31"},
    ]
    plain = describe(Agreement.model_validate(terms))
    assert plain.longitudinal[:2] == (
        "Analysts of project repeat-victims may follow the same people across releases until "
        "31 March 2027, for repeat victimisation of under-25s.",
        "Analysts of project knife-crime may follow the same people across releases until "
        "31 March 2026, for SVD knife crime pathways.",
    )
    assert "Analysts of projects repeat-victims and knife-crime may follow" in plain.summary
