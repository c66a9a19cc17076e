"""Expectation suites generated from agreements: each rule kind, severity, skipped rules,
hand-written extras merged, and bad extras refused naming the file and the expectation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.agreements import Agreement, load_agreement
from hub.errors import AgreementError
from hub.quality.rules import plan_agreement
from hub.quality.suites import effective_suite, render_suite, suite_for
from tests.conftest import FIXTURES

AGREEMENT = load_agreement(FIXTURES / "quality" / "quality-rules.yaml")


def _by_rule(suite: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for e in suite["expectations"]:
        key = (e["meta"]["field"], e["meta"]["rule"])
        assert key not in found, f"two expectations for {key}"
        found[key] = e
    return found


SUITE = suite_for(AGREEMENT)
BY_RULE = _by_rule(SUITE)

# (field, rule) -> (GX type, column checked, table, evaluated by, kwargs beyond the column)
EXPECTED = {
    ("case_ref", "not_null"): (
        "expect_column_values_to_not_be_null",
        "tok_record_id",
        "tokens",
        "hub",
        {},
    ),
    ("case_ref", "unique"): (
        "expect_column_values_to_be_unique",
        "tok_record_id",
        "tokens",
        "hub",
        {},
    ),
    ("date_of_birth", "not_null"): (
        "expect_column_values_to_not_be_null",
        "age_band",
        "staging",
        "gx",
        {},
    ),
    ("event_date", "not_null"): (
        "expect_column_values_to_not_be_null",
        "event_date",
        "staging",
        "gx",
        {},
    ),
    ("event_date", "not_in_future"): (
        "expect_column_values_to_be_between",
        "event_date",
        "staging",
        "gx",
        {"max_value": {"$PARAMETER": "arrival_date"}},
    ),
    ("arrival_datetime", "not_in_future"): (
        "expect_column_values_to_be_between",
        "arrival_datetime",
        "staging",
        "gx",
        {"max_value": {"$PARAMETER": "day_after_arrival"}, "strict_max": True},
    ),
    ("referral_datetime", "not_in_future"): (
        "expect_column_values_to_be_between",
        "referral_date",
        "staging",
        "gx",
        {"max_value": {"$PARAMETER": "arrival_date"}},
    ),
    ("status", "not_null"): ("expect_column_values_to_not_be_null", "status", "staging", "gx", {}),
    ("status", "allowed_values"): (
        "expect_column_values_to_be_in_set",
        "status",
        "staging",
        "gx",
        {"value_set": ["Open", "Closed"]},
    ),
    ("code", "pattern"): (
        "expect_column_values_to_match_regex",
        "code",
        "staging",
        "gx",
        {"regex": "^(?:[A-Z]{2}[0-9])$"},
    ),
    ("score", "range"): (
        "expect_column_values_to_be_between",
        "score",
        "staging",
        "gx",
        {"min_value": 0, "max_value": 10},
    ),
    ("sessions", "allowed_values"): (
        "expect_column_values_to_be_in_set",
        "sessions",
        "staging",
        "gx",
        {"value_set": [1, 2, 3]},
    ),
    ("local_ref", "unique"): (
        "expect_column_values_to_be_unique",
        "local_ref",
        "staging",
        "hub",
        {},
    ),
    ("arrival_datetime", "cross_field:arrival_after_incident"): (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "arrival_datetime",
        "staging",
        "gx",
        {
            "column_A": "arrival_datetime",
            "column_B": "incident_datetime",
            "or_equal": False,
            "ignore_row_if": "either_value_is_missing",
        },
    ),
    ("event_date", "cross_field:event_before_referral"): (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "event_date",
        "staging",
        "gx",
        {
            "column_A": "referral_date",
            "column_B": "event_date",
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
    ),
}

SKIPPED = {
    ("nhs_number", "pattern"): "pseudonymised",
    ("date_of_birth", "not_in_future"): "generalised (age_band)",
    ("postcode", "pattern"): "generalised (lsoa)",
    ("event_time", "not_in_future"): "not time",
    ("weapon_flag", "allowed_values"): "flag field",
    ("label", "range"): "not string",
    ("officer_notes", "not_null"): "dropped",
    ("officer_notes", "pattern"): "dropped",
    (
        "event_date",
        "cross_field:event_before_arrival",
    ): "compares a date (event_date) with a datetime",
    ("event_time", "cross_field:time_before_referral"): "compares a time",
}


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_rule_becomes_its_expectation_on_the_staged_view(key: tuple[str, str]) -> None:
    kind, column, table, evaluated_by, extra = EXPECTED[key]
    e = BY_RULE[key]
    assert e["type"] == kind
    assert e["meta"] | {"severity": None} == {
        "column": column,
        "evaluated_by": evaluated_by,
        "field": key[0],
        "rule": key[1],
        "severity": None,
        "source": "agreement",
        "table": table,
    }
    expected_kwargs = extra if "column_A" in extra else {"column": column, **extra}
    assert e["kwargs"] == expected_kwargs
    assert e["notes"]


def test_nothing_else_is_generated() -> None:
    assert set(BY_RULE) == set(EXPECTED)


def test_severity_comes_from_the_agreement() -> None:
    severities = {key: e["severity"] for key, e in BY_RULE.items()}
    assert severities[("status", "allowed_values")] == "critical"
    assert severities[("status", "not_null")] == "critical"  # the field's quality severity
    assert severities[("case_ref", "unique")] == "critical"
    assert severities[("code", "pattern")] == "warning"
    assert severities[("date_of_birth", "not_null")] == "warning"  # no quality block: default
    assert severities[("event_date", "cross_field:event_before_referral")] == "critical"
    assert severities[("arrival_datetime", "cross_field:arrival_after_incident")] == "warning"
    for e in SUITE["expectations"]:
        assert e["meta"]["severity"] == e["severity"]  # GX's own field and the hub's meta agree


def test_rules_that_cannot_apply_are_skipped_with_a_reason_never_silently() -> None:
    skipped = {(s["field"], s["rule"]): s["reason"] for s in SUITE["meta"]["skipped"]}
    assert set(skipped) == set(SKIPPED)
    for key, words in SKIPPED.items():
        assert words in skipped[key], key


def _asked(agreement: Agreement) -> set[tuple[str, str]]:
    asked = {(f.name, "not_null") for f in agreement.fields if f.required}
    for f in agreement.fields:
        q = f.quality
        if q is None:
            continue
        for rule, present in (
            ("allowed_values", bool(q.allowed_values)),
            ("pattern", q.pattern is not None),
            ("range", q.minimum is not None or q.maximum is not None),
            ("not_in_future", q.not_in_future),
            ("unique", q.unique),
        ):
            if present:
                asked.add((f.name, rule))
    asked |= {(r.field, f"cross_field:{r.name}") for r in agreement.quality_rules}
    return asked


def test_every_rule_is_an_expectation_or_skipped_exactly_once() -> None:
    plan = plan_agreement(AGREEMENT)
    made = [(e["meta"]["field"], e["meta"]["rule"]) for e in plan.expectations]
    skipped = [(s.field, s.rule) for s in plan.skipped]
    assert sorted(made + skipped) == sorted(_asked(AGREEMENT))


def test_the_suite_is_gx_1_json_that_gx_accepts_whole() -> None:
    from great_expectations.core import ExpectationSuite

    loaded = ExpectationSuite(**json.loads(render_suite(SUITE)))  # drops invalid ones silently
    assert loaded.name == "quality-rules"
    assert len(loaded.expectations) == len(SUITE["expectations"])
    for gx_expectation, e in zip(loaded.expectations, SUITE["expectations"], strict=True):
        assert gx_expectation.expectation_type == e["type"]
        assert gx_expectation.severity.value == e["severity"]
        assert gx_expectation.meta == e["meta"]


def test_rendering_is_deterministic_and_commit_ready() -> None:
    text = render_suite(suite_for(AGREEMENT))
    assert text == render_suite(suite_for(AGREEMENT))
    assert text.endswith("}\n")
    suite = json.loads(text)
    assert "id" not in suite  # no GX ids: they would change on every write
    assert not any("id" in e for e in suite["expectations"])
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
    meta = suite["meta"]
    assert meta["agreement"] == {"id": "quality-rules", "version": 3}
    assert set(meta["parameters"]) == {"arrival_date", "day_after_arrival"}


# hand-written extras ---------------------------------------------------------------------------

GOOD_EXTRA = {
    "type": "expect_column_values_to_match_regex",
    "kwargs": {"column": "home_lsoa", "regex": "^[EW]0[0-9]{7}$"},
    "meta": {"rule": "lsoa_format", "severity": "critical"},
    "notes": "An LSOA code",
}


def _write_extras(folder: Path, expectations: list[Any], **top: Any) -> Path:
    path = folder / "quality-rules.extra.json"
    path.write_text(json.dumps({"agreement": "quality-rules", **top, "expectations": expectations}))
    return path


def test_extras_are_kept_and_merged_after_the_generated_expectations(tmp_path: Path) -> None:
    pair = {
        "type": "expect_column_pair_values_to_be_equal",
        "kwargs": {"column_A": "event_date", "column_B": "referral_date", "mostly": 0.5},
        "meta": {"rule": "same_day"},
    }
    _write_extras(tmp_path, [GOOD_EXTRA, pair], notes="why")
    suite = effective_suite(AGREEMENT, tmp_path)
    generated = len(SUITE["expectations"])
    assert suite["expectations"][:generated] == SUITE["expectations"]
    first, second = suite["expectations"][generated:]
    assert first["type"] == GOOD_EXTRA["type"] and first["kwargs"] == GOOD_EXTRA["kwargs"]
    assert first["meta"] == {
        "column": "home_lsoa",
        "evaluated_by": "gx",
        "field": "postcode",  # the field whose generalised column it checks
        "rule": "lsoa_format",
        "severity": "critical",
        "source": "extra",
        "table": "staging",
    }
    assert first["severity"] == "critical" and first["notes"] == "An LSOA code"
    assert second["severity"] == "warning" and second["meta"]["field"] == "event_date"
    assert suite["meta"]["extras"] == "quality-rules.extra.json"


def test_no_extras_file_means_the_generated_suite(tmp_path: Path) -> None:
    assert effective_suite(AGREEMENT, tmp_path) == SUITE


def _bad(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**entry, **changes}


BAD_EXTRAS = {
    "unknown type": (_bad(GOOD_EXTRA, type="expect_the_unexpected"), "not a Great Expectations"),
    "aggregate": (
        {
            "type": "expect_column_max_to_be_between",
            "kwargs": {"column": "score", "max_value": 5},
            "meta": {"rule": "max"},
        },
        "not a row-by-row expectation",
    ),
    "compound unique": (
        {
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": ["status", "code"]},
            "meta": {"rule": "pair_unique"},
        },
        "not a row-by-row expectation",
    ),
    "token column": (
        _bad(GOOD_EXTRA, kwargs={"column": "tok_record_id", "regex": "x"}),
        "token column tok_record_id",
    ),
    "identifier column": (
        _bad(GOOD_EXTRA, kwargs={"column": "nhs_number", "regex": "x"}),
        "not in quality-rules's staged table",
    ),
    "result format": (
        _bad(GOOD_EXTRA, kwargs={**GOOD_EXTRA["kwargs"], "result_format": "COMPLETE"}),
        "sets `result_format`",
    ),
    "no rule id": (_bad(GOOD_EXTRA, meta={"severity": "warning"}), "needs `meta.rule`"),
    "rule taken": (
        _bad(GOOD_EXTRA, kwargs={"column": "status", "regex": "x"}, meta={"rule": "not_null"}),
        "rule not_null is already used on column status",
    ),
    "severity": (_bad(GOOD_EXTRA, meta={"rule": "r", "severity": "info"}), "critical or warning"),
    "kwargs invalid": (
        _bad(GOOD_EXTRA, kwargs={"column": "status", "regex": "x", "mostly": 2}),
        "kwargs are not valid for expect_column_values_to_match_regex",
    ),
    "unknown parameter": (
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "score", "max_value": {"$PARAMETER": "today"}},
            "meta": {"rule": "r"},
        },
        "suite parameters ['today']",
    ),
    "unknown key": (_bad(GOOD_EXTRA, id="123"), "unknown keys ['id']"),
}


@pytest.mark.parametrize("name", sorted(BAD_EXTRAS))
def test_bad_extras_are_refused_naming_the_file_and_the_expectation(
    name: str, tmp_path: Path
) -> None:
    entry, words = BAD_EXTRAS[name]
    _write_extras(tmp_path, [GOOD_EXTRA, entry])
    with pytest.raises(AgreementError) as caught:
        effective_suite(AGREEMENT, tmp_path)
    message = caught.value.message
    assert message.startswith(f"quality-rules.extra.json: expectation 2 ({entry['type']})")
    assert words in message
    assert "docs/quality.md" in (caught.value.hint or "")


def test_every_problem_of_an_extras_file_is_listed(tmp_path: Path) -> None:
    _write_extras(tmp_path, [_bad(GOOD_EXTRA, meta={}), _bad(GOOD_EXTRA, type="nope")])
    with pytest.raises(AgreementError) as caught:
        effective_suite(AGREEMENT, tmp_path)
    lines = caught.value.message.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "expectation 1 (expect_column_values_to_match_regex)",
        "expectation 2 (nope)",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"expectations": {}}', "needs an `expectations` list"),
        ('{"agreement": "police-sv", "expectations": []}', "names agreement 'police-sv'"),
        ('{"expectations": [], "suite": 1}', "unknown keys ['suite']"),
    ],
)
def test_a_malformed_extras_file_is_refused(text: str, words: str, tmp_path: Path) -> None:
    (tmp_path / "quality-rules.extra.json").write_text(text)
    with pytest.raises(AgreementError) as caught:
        effective_suite(AGREEMENT, tmp_path)
    assert caught.value.message.startswith("quality-rules.extra.json: ")
    assert words in caught.value.message
