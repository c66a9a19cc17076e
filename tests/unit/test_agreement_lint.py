"""``hub agreement lint``: the contracts are clean; each broken agreement in
``fixtures/agreements/broken`` fails with its rule, its message and its line; several problems in
one file are all reported at once; the loader refuses what lint fails.

A broken fixture is a real contract with one thing broken. Its first line says what lint must
report (``# expect: <rule>: <part of the message>``) and the line lint must point at ends with
``# <-``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.agreements.lint import RULES, Check, CheckStatus, lint_file, lint_text
from hub.agreements.loader import load_agreement, load_agreements
from hub.agreements.positions import describe, line_in, line_of
from hub.errors import AgreementError, NotFoundError
from tests.conftest import CONTRACTS, FIXTURES

BROKEN = FIXTURES / "agreements" / "broken"
CONTRACT_FILES = sorted(CONTRACTS.glob("*.yaml"))
BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))
WARNING_RULES = {
    "retention-landing",
    "review-date",
    "disclosure-rounding",
    "quality-unchecked",
    "output-access-row-level",
}


def _expectation(path: Path) -> tuple[str, str, int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# expect: "), f"{path.name}: first line must say what to expect"
    rule, message = lines[0].removeprefix("# expect: ").split(": ", 1)
    marked = [n for n, text in enumerate(lines, start=1) if text.endswith("# <-")]
    assert len(marked) == 1, f"{path.name}: mark exactly one line with '# <-'"
    return rule, message, marked[0]


def _problems(text: str) -> list[Check]:
    return [c for c in lint_text(text, "x.yaml").checks if c.status is not CheckStatus.PASSED]


def _police() -> str:
    return (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")


# --- the contracts ---------------------------------------------------------------------------


def test_there_are_contracts_and_broken_fixtures() -> None:
    assert len(CONTRACT_FILES) >= 5
    assert len(BROKEN_FILES) >= len(RULES)


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.name)
def test_every_contract_lints_clean(path: Path) -> None:
    report = lint_file(path)
    assert [str(c) for c in report.failed] == []
    assert [str(c) for c in report.warnings] == []  # no exceptions needed: all five are clean
    assert report.ok
    assert report.agreement is not None
    assert [c.rule for c in report.passed] == list(RULES)  # the output shows what was checked


# --- one broken agreement per rule -----------------------------------------------------------


def test_every_rule_has_a_broken_fixture() -> None:
    assert {_expectation(path)[0] for path in BROKEN_FILES} == set(RULES)


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_a_broken_agreement_fails_with_its_rule_on_its_line(path: Path) -> None:
    rule, message, line = _expectation(path)
    report = lint_file(path)
    problems = [c for c in report.checks if c.status is not CheckStatus.PASSED]
    assert [c.rule for c in problems] == [rule], [str(c) for c in problems]  # one break, one report
    (check,) = problems
    assert message in check.message
    assert check.line == line
    assert check.status is (CheckStatus.WARNING if rule in WARNING_RULES else CheckStatus.FAILED)
    assert check.hint
    assert str(check).startswith(f"{path}:{line}: ")
    assert report.ok is (rule in WARNING_RULES)
    assert rule not in {c.rule for c in report.passed}


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_the_loader_refuses_failures_and_loads_despite_warnings(path: Path) -> None:
    rule, message, line = _expectation(path)
    if rule in WARNING_RULES:
        assert load_agreement(path).id
        return
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    assert caught.value.message.startswith(f"{path}:{line}: ")
    assert message in caught.value.message
    assert "(and" not in caught.value.message
    assert caught.value.hint == f"run `hub agreement lint {path}` for every problem at once"


def test_every_check_names_its_field_path_and_a_hint() -> None:
    for path in BROKEN_FILES:
        for check in lint_file(path).checks:
            if check.status is not CheckStatus.PASSED and check.rule != "yaml":
                assert check.field, str(check)
                assert check.hint, str(check)


# --- everything at once ----------------------------------------------------------------------


BREAKS = {
    "unknown-key": ("version: 1\n", "version: 1\nstatus: approved\n"),
    "schema": ("  format: csv", "  format: xlsx"),
    "identifier-type-unknown": ("identifier: pnc_id}", "identifier: pnc}"),
    "lawful-basis-article10": ("  article10:", "  note:"),
    "party-unknown": ("provider: merseyvale-police", "provider: merseyvale-polis"),
    "validity-window": ("valid_until: 2027-03-31", "valid_until: 2024-03-31"),
    "schedule-invalid": ('schedule: "0 5 2 * *"', 'schedule: "every month"'),
    "disclosure-looser": ("suppress_at_or_below: 7", "suppress_at_or_below: 3"),
    "publication-field-unknown": ("area_field: lsoa_code", "area_field: lsoa"),
    "identifier-not-protected": (
        "treatment: pseudonymise, identifier: surname",
        "treatment: keep, identifier: surname",
    ),
}


def test_several_problems_in_one_file_are_all_reported_at_once(tmp_path: Path) -> None:
    text = _police()
    for old, new in BREAKS.values():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "police-sv.yaml"
    path.write_text(text, encoding="utf-8")
    report = lint_file(path)
    failed = report.failed
    # one extra unknown key: the renamed article10 is an unknown key 'note' as well
    assert {c.rule for c in failed} == set(BREAKS)
    assert len(failed) == len(BREAKS) + 1
    assert report.agreement is None
    lines = [c.line or 0 for c in failed]
    assert lines == sorted(lines)  # in file order
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    assert caught.value.message.startswith(f"{failed[0].where}: {failed[0].message}")
    assert caught.value.message.endswith(f"(and {len(failed) - 1} more)")


def test_rule_families_run_even_when_the_model_does_not_validate() -> None:
    text = (
        _police()
        .replace("  format: csv", "  format: 12")
        .replace("suppress_at_or_below: 7", "suppress_at_or_below: 2")
    )
    assert {c.rule for c in _problems(text)} == {"schema", "disclosure-looser"}


def test_values_the_model_would_coerce_are_checked_as_the_model_reads_them() -> None:
    text = _police().replace("suppress_at_or_below: 7", 'suppress_at_or_below: "3"')
    assert [c.rule for c in _problems(text)] == ["disclosure-looser"]


def test_a_misspelt_key_is_one_problem_with_a_suggestion() -> None:
    text = _police().replace("  article6:", "  artcle6:")
    (check,) = _problems(text)
    assert (check.rule, check.message) == ("unknown-key", "unknown key 'artcle6'")
    assert check.hint == "did you mean 'article6'?"  # and no separate "missing article6"
    assert check.field == "lawful_basis.artcle6"


def test_status_in_the_file_is_explained() -> None:
    text = _police().replace("version: 1\n", "version: 1\nsignatures: []\n")
    (check,) = _problems(text)
    assert check.rule == "unknown-key"
    assert check.hint is not None
    assert "kept by the hub" in check.hint
    assert "hub agreement submit" in check.hint


def test_unknown_top_level_key_lists_what_is_known() -> None:
    (check,) = _problems(_police().replace("version: 1\n", "version: 1\nzzz: 1\n"))
    assert check.hint is not None
    assert check.hint.startswith("known keys here: id, version, title")


def test_messages_do_not_echo_wrongly_typed_values() -> None:
    text = _police().replace("title: Police", "title: [value-of-the-key]\nx_title: Police")
    problems = _problems(text)
    assert {c.rule for c in problems} == {"schema", "unknown-key"}
    assert not any("value-of-the-key" in str(c) for c in problems)


@pytest.mark.parametrize(
    "value", ["3", "[1, 2]", "{a: 1}", "null", "''", "true", "[{}, 1, null, [x]]"]
)
@pytest.mark.parametrize(
    "key",
    [
        "parties",
        "lawful_basis",
        "valid_from",
        "delivery",
        "fields",
        "quality_rules",
        "linkage_keys",
        "retention",
        "output_access",
        "disclosure",
        "publication",
    ],
)
def test_nonsense_anywhere_is_reported_not_raised(key: str, value: str) -> None:
    doc = yaml.safe_load(_police())
    doc[key] = yaml.safe_load(value)
    report = lint_text(yaml.safe_dump(doc, sort_keys=False), "x.yaml")
    assert report.failed
    assert report.agreement is None


@pytest.mark.parametrize("value", ["3", "[1]", "{a: 1}", "null", "X Y", "[{}, 1]"])
@pytest.mark.parametrize(
    "key", ["name", "type", "classification", "treatment", "identifier", "rule", "relative_to"]
)
def test_nonsense_in_a_field_is_reported_not_raised(key: str, value: str) -> None:
    doc = yaml.safe_load(_police())
    doc["fields"][6][key] = yaml.safe_load(value)  # date_of_birth: generalised, relative_to
    assert lint_text(yaml.safe_dump(doc, sort_keys=False), "x.yaml").failed


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        ("", "schema", None),
        ("- a\n- b\n", "schema", 1),
        ("just text\n", "schema", 1),
        ("a: 1\n---\nb: 2\n", "yaml", 2),
        ("a: [1, 2\n", "yaml", 2),
        ("a: 2025-02-30\n", "yaml", 1),
        ("a: *nowhere\n", "yaml", 1),
        ("[" * 2000 + "]" * 2000 + "\n", "yaml", None),
    ],
)
def test_files_that_are_not_agreements(text: str, rule: str, line: int | None) -> None:
    report = lint_text(text, "x.yaml")
    (check,) = report.checks
    assert (check.status, check.rule) == (CheckStatus.FAILED, rule)
    if line is not None:
        assert check.line == line
    assert report.agreement is None


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: caf\u00e9\n".encode("latin-1"))
    (check,) = lint_file(path).checks
    assert (check.rule, check.status) == ("yaml", CheckStatus.FAILED)


def test_a_missing_file_cannot_be_linted(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        lint_file(tmp_path / "nope.yaml")


def test_a_duplicate_key_points_at_the_second() -> None:
    text = _police().replace("version: 1\n", "version: 1\nversion: 2\n")
    (check,) = _problems(text)
    assert (check.rule, check.line, check.field) == ("duplicate-key", 5, "version")
    assert "lines 4 and 5" in check.message


def test_a_check_renders_file_line_field_message_and_hint() -> None:
    check = Check(
        CheckStatus.FAILED,
        "identifier-not-protected",
        "field 'nhs_number' is a direct identifier",
        "contracts/x.yaml",
        12,
        "fields[3].treatment",
        "pseudonymise it",
    )
    assert str(check) == (
        "contracts/x.yaml:12: fields[3].treatment: field 'nhs_number' is a direct identifier "
        "(hint: pseudonymise it)"
    )
    passed = Check(CheckStatus.PASSED, "duplicate-field", "field names are unique", "x.yaml")
    assert str(passed) == "x.yaml: field names are unique"


def test_the_loader_loads_every_contract() -> None:
    assert len(load_agreements(CONTRACTS)) == len(CONTRACT_FILES)


# --- positions -------------------------------------------------------------------------------

DOC = """\
# a comment
id: demo
parties:
  - org: a
    name: A
  - org: b
fields:
  - {name: x, type: date}
  - {name: y,
     classification: operational}
publication:
  flags:
    knife: {field: x}
twice: 1
twice: 2
"""


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        ((), 2),
        (("id",), 2),
        (("parties",), 3),
        (("parties", 0), 4),
        (("parties", 0, "name"), 5),
        (("parties", 1, "org"), 6),
        (("fields", 0), 8),
        (("fields", 0, "type"), 8),
        (("fields", 1, "classification"), 10),
        (("publication", "flags", "knife", "field"), 13),
        (("twice",), 15),  # a repeated key resolves to the one a loader keeps: the last
        # missing: the nearest parent that exists
        (("retention",), 2),
        (("parties", 1, "name"), 6),
        (("parties", 5, "org"), 3),
        (("fields", 0, "identifier"), 8),
        (("id", "deeper"), 2),
        (("fields", "not-an-index"), 7),
    ],
)
def test_line_of_a_location(loc: tuple[str | int, ...], line: int) -> None:
    assert line_in(DOC, loc) == line


def test_line_of_nothing() -> None:
    assert line_in("", ("id",)) is None
    assert line_in("a: [\n", ("a",)) is None
    assert line_of(None, ()) is None
    assert line_in("just a scalar\n", ("a", 0)) == 1


def test_describe_a_location() -> None:
    assert describe(("fields", 3, "classification")) == "fields[3].classification"
    assert describe(("linkage_keys", 0, "parts", 2)) == "linkage_keys[0].parts[2]"
    assert describe(()) == ""


def test_one_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    from hub.agreements.loader import get_agreement, load_agreements_leniently

    for path in CONTRACTS.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    schools = tmp_path / "schools.yaml"
    schools.write_text(schools.read_text().replace("round_to: 5", "round_to: 1"))
    twin = tmp_path / "zz-twin.yaml"
    twin.write_text((CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8"))
    found, broken = load_agreements_leniently(tmp_path)
    assert set(found) == {"ambulance-assaults", "ed-assaults", "youth-justice"}
    assert len(broken) == 2
    assert "schools.yaml" in broken[0].message
    assert "is also used by police-sv.yaml" in broken[1].message
    assert get_agreement(tmp_path, "ed-assaults").id == "ed-assaults"
    with pytest.raises(AgreementError):
        load_agreements(tmp_path)


def test_a_partner_column_read_by_two_fields_is_refused() -> None:
    text = _police().replace(
        "{name: person_urn, ", "{name: person_urn, column: crime_reference, ", 1
    )
    (problem,) = _problems(text)
    assert problem.rule == "duplicate-field"
    assert "'crime_reference'" in problem.message and "person_urn" in problem.message
    renamed = _police().replace("{name: person_urn, ", "{name: person_urn, column: Person URN, ", 1)
    assert _problems(renamed) == []


def test_an_unchanged_file_is_loaded_once_and_a_changed_one_again(tmp_path: Path) -> None:
    path = tmp_path / "police-sv.yaml"
    path.write_text(_police(), encoding="utf-8")
    first = load_agreement(path)
    assert load_agreement(path) is first
    path.write_text(_police().replace("version: 1", "version: 2", 1), encoding="utf-8")
    assert load_agreement(path).version == 2
    path.write_text(_police().replace("provider:", "provides:", 1), encoding="utf-8")
    with pytest.raises(AgreementError):
        load_agreement(path)
