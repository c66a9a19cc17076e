"""Validation of staged extracts with real Great Expectations: findings with the right counts and
row numbers per rule kind, severity deciding ``critical``, no value anywhere in the result JSON or
the Data Docs (canaries), and batch-by-batch aggregation equal to whole-table validation."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hub.agreements import get_agreement, load_agreement
from hub.agreements.development import approve_for_development
from hub.errors import IntegrityError
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import init_keyring
from hub.quality.datadocs import build_data_docs
from hub.quality.engine import RESULT_FORMAT, ephemeral_context
from hub.quality.scrub import verify_scrubbed
from hub.quality.suites import load_suite, suite_for
from hub.quality.validate import QualityOutcome, validate_staged
from hub.store import make_engine, upgrade
from hub.synth import generate_partnership
from tests.conftest import CONTRACTS, FIXTURES, ROOT, make_settings

AGREEMENT = load_agreement(FIXTURES / "quality" / "quality-rules.yaml")
SUITE = suite_for(AGREEMENT)
ARRIVED = date(2026, 3, 1)

# Canaries: values in failing rows that must never appear in a result, a report or Data Docs.
STATUS_CANARY = "CANARY-STATUS-7f3a"
CODE_CANARY = "CANARY-CODE-9b2c"
REF_CANARY = "CANARY-REF-42d1"
SCORE_CANARY = 987654
TOKEN_CANARY = b"CANARY-TOKEN-5e6f-0123456789abcd"  # 32 bytes, like a token
CANARIES = [
    STATUS_CANARY,
    CODE_CANARY,
    REF_CANARY,
    str(SCORE_CANARY),
    "2099-12-31",
    "2099-06-01",
    "0202-05-01",
]
TEXT_FILES = {".html", ".css", ".js", ".json", ".svg", ".txt"}


def _day(n: int) -> date:
    return date(2026, 1, n)


def _staged() -> pa.Table:
    """Twelve staged rows of the quality-rules agreement; the comments say which rules fail."""
    rows: list[dict[str, Any]] = []
    for i in range(1, 13):
        rows.append(
            {
                "record": i,
                "age_band": "18-24",
                "home_lsoa": "E01000001",
                "event_date": _day(i),
                "event_time": time(12, 0),
                "incident_datetime": datetime(2026, 1, i, 10),
                "arrival_datetime": datetime(2026, 1, i, 11),
                "referral_date": _day(i + 1),
                "status": "Open",
                "code": "AB1",
                "score": 5,
                "sessions": 1,
                "local_ref": f"L{i}",
                "weapon_flag": False,
                "label": "team",
            }
        )
    rows[1]["status"] = STATUS_CANARY  # row 2: allowed_values (critical)
    rows[6]["status"] = STATUS_CANARY  # row 7: allowed_values
    rows[2]["status"] = None  # row 3: not_null (critical)
    rows[3]["code"] = CODE_CANARY  # row 4: pattern
    rows[4]["score"] = SCORE_CANARY  # row 5: range
    rows[5]["score"] = -1  # row 6: range
    rows[7]["sessions"] = 9  # row 8: allowed_values (integer)
    rows[8]["local_ref"] = REF_CANARY  # rows 9 and 11: unique (kept, across batches)
    rows[10]["local_ref"] = REF_CANARY
    rows[9]["event_date"] = date(2099, 12, 31)  # row 10: not_in_future (critical) ...
    rows[9]["referral_date"] = date(2100, 1, 1)  # ... but still before its referral
    rows[11]["arrival_datetime"] = datetime(2099, 6, 1, 9)  # row 12: not_in_future (datetime)
    rows[0]["arrival_datetime"] = datetime(2026, 1, 1, 10)  # row 1: arrival not after incident
    rows[0]["age_band"] = None  # row 1: not_null on a generalised column
    rows[6]["referral_date"] = _day(3)  # row 7: referral before the event (critical)
    rows[8]["referral_date"] = date(2026, 3, 2)  # row 9: referral after arrival (not_in_future)
    schema = pa.schema(
        [
            ("record", pa.int64()),
            ("age_band", pa.string()),
            ("home_lsoa", pa.string()),
            ("event_date", pa.date32()),
            ("event_time", pa.time32("s")),
            ("incident_datetime", pa.timestamp("s")),
            ("arrival_datetime", pa.timestamp("s")),
            ("referral_date", pa.date32()),
            ("status", pa.string()),
            ("code", pa.string()),
            ("score", pa.int64()),
            ("sessions", pa.int64()),
            ("local_ref", pa.string()),
            ("weapon_flag", pa.bool_()),
            ("label", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _tokens() -> pa.Table:
    tokens = [bytes([i]) * 32 for i in range(1, 13)]
    tokens[3] = None  # row 4: the required case reference has no token
    tokens[4] = TOKEN_CANARY  # rows 5 and 6: the case reference is not unique
    tokens[5] = TOKEN_CANARY
    return pa.table(
        {
            "record": pa.array(range(1, 13), pa.int64()),
            "tok_record_id": pa.array(tokens, pa.binary(32)),
        }
    )


# (field, rule) -> (count, first rows)
EXPECTED = {
    ("status", "allowed_values"): (2, (2, 7)),
    ("status", "not_null"): (1, (3,)),
    ("code", "pattern"): (1, (4,)),
    ("score", "range"): (2, (5, 6)),
    ("sessions", "allowed_values"): (1, (8,)),
    ("local_ref", "unique"): (2, (9, 11)),
    ("event_date", "not_in_future"): (1, (10,)),
    ("arrival_datetime", "not_in_future"): (1, (12,)),
    ("referral_datetime", "not_in_future"): (2, (9, 10)),
    ("arrival_datetime", "cross_field:arrival_after_incident"): (1, (1,)),
    ("event_date", "cross_field:event_before_referral"): (1, (7,)),
    ("date_of_birth", "not_null"): (1, (1,)),
    ("case_ref", "not_null"): (1, (4,)),
    ("case_ref", "unique"): (2, (5, 6)),
}


def _validate(batch_rows: int = 1_000_000, **kwargs: Any) -> QualityOutcome:
    kwargs.setdefault("tokens", _tokens())
    return validate_staged(
        AGREEMENT, _staged(), SUITE, arrival_date=ARRIVED, batch_rows=batch_rows, **kwargs
    )


@pytest.fixture(scope="module")
def outcome() -> QualityOutcome:
    return _validate(run_name="extract-0001")


def test_each_rule_kind_finds_its_rows(outcome: QualityOutcome) -> None:
    found = {(f.field, f.rule): (f.count, f.first_rows) for f in outcome.findings}
    assert found == EXPECTED
    assert {f.status for f in outcome.findings} == {"failed"}
    assert outcome.rows == 12


def test_findings_name_the_column_checked_and_the_expectation(outcome: QualityOutcome) -> None:
    by_rule = {(f.field, f.rule): f for f in outcome.findings}
    assert by_rule[("date_of_birth", "not_null")].column == "age_band"
    assert by_rule[("case_ref", "unique")].column == "tok_record_id"
    assert by_rule[("referral_datetime", "not_in_future")].column == "referral_date"
    pair = by_rule[("event_date", "cross_field:event_before_referral")]
    assert pair.expectation == "expect_column_pair_values_a_to_be_greater_than_b"
    assert by_rule[("status", "allowed_values")].severity.value == "critical"
    assert by_rule[("code", "pattern")].severity.value == "warning"


def test_a_critical_failure_makes_the_outcome_critical(outcome: QualityOutcome) -> None:
    assert outcome.critical
    assert outcome.result["success"] is False


def test_warnings_alone_pass_with_a_note() -> None:
    table = _staged().slice(11, 1)  # row 12: only a warning (arrival in the future)
    tokens = _tokens().slice(11, 1)
    result = validate_staged(AGREEMENT, table, SUITE, tokens=tokens, arrival_date=ARRIVED)
    assert not result.critical
    assert [(f.field, f.rule, f.severity.value) for f in result.findings] == [
        ("arrival_datetime", "not_in_future", "warning")
    ]
    assert result.warnings == result.findings
    assert result.as_report()["critical"] is False


def test_a_clean_extract_has_no_findings() -> None:
    clean = _staged().slice(7, 1)  # row 8 fails only sessions
    clean = clean.set_column(11, "sessions", pa.array([2], pa.int64()))
    result = validate_staged(
        AGREEMENT, clean, SUITE, tokens=_tokens().slice(7, 1), arrival_date=ARRIVED
    )
    assert result.findings == ()
    assert result.result["success"] is True
    assert not result.critical


def test_batch_by_batch_equals_the_whole_table(outcome: QualityOutcome) -> None:
    for rows in (1, 2, 5):
        batched = _validate(batch_rows=rows, run_name="extract-0001")
        assert batched.findings == outcome.findings
        whole = [r["result"] for r in outcome.result["results"]]
        assert [r["result"] for r in batched.result["results"]] == whole
        assert [r["success"] for r in batched.result["results"]] == [
            r["success"] for r in outcome.result["results"]
        ]
        assert batched.result["meta"]["batches"] == -(-12 // rows)


def test_streamed_batches_equal_the_whole_table(outcome: QualityOutcome) -> None:
    streamed = validate_staged(
        AGREEMENT,
        iter(_staged().to_batches(max_chunksize=5)),
        SUITE,
        tokens=iter(_tokens().to_batches(max_chunksize=7)),
        arrival_date=ARRIVED,
        batch_rows=4,
    )
    assert streamed.findings == outcome.findings


def test_the_aggregate_matches_gx_on_the_whole_frame(outcome: QualityOutcome) -> None:
    """The hub's sums equal GX's own counts when GX sees the whole table at once."""
    from great_expectations.core import ExpectationSuite

    from hub.quality.frames import to_frame

    gx_only = [e for e in SUITE["expectations"] if e["meta"]["evaluated_by"] == "gx"]
    context = ephemeral_context()
    suite = context.suites.add(ExpectationSuite(name="whole", expectations=gx_only))
    frame = to_frame(_staged(), _staged().column_names, ARRIVED)
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame.frame})
    )
    run = batch.validate(
        suite, result_format=dict(RESULT_FORMAT), expectation_parameters=frame.parameters
    )
    ours = {
        (r["expectation_config"]["meta"]["field"], r["expectation_config"]["meta"]["rule"]): r
        for r in outcome.result["results"]
    }
    for gx_result in run.results:
        meta = gx_result.expectation_config.meta
        mine = ours[(meta["field"], meta["rule"])]
        assert mine["success"] == gx_result.success
        assert mine["result"]["unexpected_count"] == gx_result.result["unexpected_count"]
        assert mine["result"]["element_count"] == gx_result.result["element_count"]
    assert "pandas_data_fingerprint" not in json.dumps(run.to_json_dict(), default=str)


def test_dates_beyond_nanoseconds_are_validated_exactly() -> None:
    """A typo such as year 0202 keeps the batch on Arrow-backed (exact) dates."""
    table = _staged()
    dates = table.column("event_date").to_pylist()
    dates[0] = date(202, 5, 1)
    table = table.set_column(3, "event_date", pa.array(dates, pa.date32()))
    from hub.quality.frames import to_frame

    exact = to_frame(table, table.column_names, ARRIVED)
    assert type(exact.parameters["arrival_date"]) is date  # not a pandas Timestamp
    assert str(exact.frame["event_date"].dtype) == "date32[day][pyarrow]"
    result = validate_staged(AGREEMENT, table, SUITE, tokens=_tokens(), arrival_date=ARRIVED)
    found = {(f.field, f.rule): (f.count, f.first_rows) for f in result.findings}
    assert found == EXPECTED  # year 0202 is neither in the future nor after its referral
    assert "0202-05-01" not in json.dumps(result.result)


def test_no_value_reaches_the_result_json(outcome: QualityOutcome) -> None:
    text = json.dumps(outcome.result) + json.dumps(outcome.as_report())
    for canary in CANARIES:
        assert canary not in text, canary
    assert TOKEN_CANARY.hex() not in text and "CANARY" not in text
    assert verify_scrubbed(outcome.result) == []
    for entry in outcome.result["results"]:
        assert set(entry["result"]) <= {
            "element_count",
            "unexpected_count",
            "unexpected_percent",
            "unexpected_percent_total",
            "unexpected_percent_nonmissing",
            "missing_count",
            "missing_percent",
            "partial_unexpected_index_list",
            "unexpected_index_column_names",
        }
    assert "batch_markers" not in outcome.result["meta"]


def test_the_canary_can_fail() -> None:
    """GX left to its defaults records the failing values: the canaries would see them."""
    from great_expectations.core import ExpectationSuite

    from hub.quality.frames import to_frame

    context = ephemeral_context()
    allowed = [e for e in SUITE["expectations"] if e["meta"]["rule"] == "allowed_values"]
    suite = context.suites.add(ExpectationSuite(name="leaky", expectations=allowed))
    frame = to_frame(_staged(), _staged().column_names, ARRIVED)
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame.frame})
    )
    leaky = batch.validate(suite, result_format="COMPLETE").to_json_dict()
    assert STATUS_CANARY in json.dumps(leaky, default=str)
    assert verify_scrubbed(leaky)


def test_the_verifier_names_what_a_raw_gx_result_would_leak() -> None:
    raw = {
        "success": False,
        "results": [
            {
                "success": False,
                "expectation_config": {"type": "t", "kwargs": {}},
                "result": {
                    "unexpected_count": 1,
                    "partial_unexpected_list": [STATUS_CANARY],
                    "partial_unexpected_index_list": [{"record": 2, "status": STATUS_CANARY}],
                },
                "exception_info": {"raised_exception": True, "exception_message": STATUS_CANARY},
            }
        ],
        "meta": {"batch_markers": {"pandas_data_fingerprint": "abc"}},
    }
    problems = verify_scrubbed(raw)
    assert "meta: key batch_markers" in problems
    assert "results[0].result: key partial_unexpected_list" in problems
    assert "results[0].result.partial_unexpected_index_list: an entry other than a row number" in (
        problems
    )
    assert "results[0].exception_info: a message other than a class name" in problems
    assert not any(STATUS_CANARY in p for p in problems)


def test_data_docs_hold_no_value(outcome: QualityOutcome, tmp_path: Path) -> None:
    out = tmp_path / "quality" / "quality-rules" / "extract-0001" / "docs"
    index = build_data_docs(outcome.result, SUITE, out)
    assert index == out / "index.html" and index.is_file()
    pages = list(out.rglob("*.html"))
    validation = [p for p in pages if "validations" in p.parts]
    assert len(validation) == 1
    text = validation[0].read_text(encoding="utf-8")
    assert "(value withheld)" in text  # GX's failing-rows table shows row numbers only
    assert '<meta name="referrer" content="no-referrer">' in text
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert TOKEN_CANARY not in data and TOKEN_CANARY.hex().encode() not in data
        if path.suffix in TEXT_FILES:  # fonts and images may hold any digits by chance
            for canary in CANARIES:
                assert canary.encode() not in data, (path, canary)
    assert not list(tmp_path.rglob(".tmp-*")) and not list(tmp_path.rglob(".old-*"))


def test_data_docs_replace_the_previous_site(outcome: QualityOutcome, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    build_data_docs(outcome.result, SUITE, out)
    (out / "stale.html").write_text("old")
    build_data_docs(outcome.result, SUITE, out)
    assert not (out / "stale.html").exists()
    assert (out / "index.html").is_file()


def test_data_docs_refuse_a_result_that_holds_values(tmp_path: Path) -> None:
    leaky = {"success": False, "results": [], "suite_name": "s", "meta": {"batch_markers": {}}}
    with pytest.raises(IntegrityError):
        build_data_docs(leaky, SUITE, tmp_path / "docs")
    assert not (tmp_path / "docs").exists()


def test_token_checks_without_the_tokens_table_are_not_evaluated() -> None:
    result = _validate(tokens=None)
    errors = {(f.field, f.rule): f for f in result.findings if f.status == "error"}
    assert set(errors) == {("case_ref", "not_null"), ("case_ref", "unique")}
    assert result.critical  # a critical check that could not run quarantines the extract
    messages = {
        r["exception_info"]["exception_message"]
        for r in result.result["results"]
        if r["exception_info"]["raised_exception"]
    }
    assert messages == {"not evaluated: the tokens table was not given"}


def test_a_missing_column_is_an_error_finding_without_its_message() -> None:
    table = _staged().drop_columns(["code"])
    result = validate_staged(AGREEMENT, table, SUITE, tokens=_tokens(), arrival_date=ARRIVED)
    code = [f for f in result.findings if f.field == "code"]
    assert [(f.rule, f.status, f.count) for f in code] == [("pattern", "error", 0)]
    assert verify_scrubbed(result.result) == []


def test_a_staged_table_without_record_numbers_cannot_be_validated() -> None:
    with pytest.raises(IntegrityError, match="no record column"):
        validate_staged(AGREEMENT, _staged().drop_columns(["record"]), SUITE, tokens=_tokens())


def test_the_stage_steps_output_validates_with_the_committed_suite(tmp_path: Path) -> None:
    """The real pipeline: a synthetic police extract received, staged, then validated with
    expectations/police-sv.json and its tokens, in small batches."""
    on = date(2026, 6, 1)
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    summary = generate_partnership(tmp_path / "partners", rows=1000)
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(
        tmp_path / "partners" / "reference" / "postcode_lsoa.csv",
        settings.reference_dir / "postcode_lsoa.csv",
    )
    agreement = get_agreement(CONTRACTS, "police-sv")
    approve_for_development(settings, engine, [agreement])
    ring = init_keyring(settings)
    with summary.files["police-sv"].open("rb") as source:
        extract = receive_extract(
            settings,
            engine,
            ring,
            agreement,
            sender_org=agreement.provider,
            source=source,
            source_name="police.csv",
            today=on,
        )
    staged = stage_extract(settings, engine, ring, agreement, extract.id, today=on)
    engine.dispose()
    suite = load_suite(ROOT / "expectations", "police-sv")
    data, tokens = staged.staged_path.parquet_file(), staged.tokens_path.parquet_file()
    result = validate_staged(
        agreement,
        data.iter_batches(batch_size=100),
        suite,
        tokens=tokens.iter_batches(batch_size=100),
        arrival_date=on,
        batch_rows=250,
        run_name=extract.id,
    )
    assert result.rows == staged.rows
    assert result.findings == ()
    assert not result.critical
    assert result.result["meta"]["batches"] == -(-staged.rows // 250)
    assert len(result.result["results"]) == len(suite["expectations"])
    early = validate_staged(
        agreement, staged.staged_path.read_parquet(), suite, arrival_date=date(2025, 4, 1)
    )
    future = [f for f in early.findings if f.rule == "not_in_future"]
    assert future and future[0].severity.value == "critical" and early.critical


def test_mostly_is_judged_on_the_whole_extract(tmp_path: Path) -> None:
    """An extra with ``mostly`` passes or fails on the summed counts, not batch by batch."""
    from hub.quality.suites import effective_suite

    (tmp_path / "quality-rules.extra.json").write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "code", "value_set": ["AB1"], "mostly": 0.9},
                        "meta": {"rule": "usual_code"},
                    }
                ]
            }
        )
    )
    suite = effective_suite(AGREEMENT, tmp_path)
    for rows in (2, 12):  # the batch holding row 4 alone is 50% bad; the extract 1 in 12
        result = validate_staged(
            AGREEMENT, _staged(), suite, tokens=_tokens(), arrival_date=ARRIVED, batch_rows=rows
        )
        extra = result.result["results"][-1]
        assert extra["expectation_config"]["meta"]["source"] == "extra"
        assert extra["success"] is True
        assert extra["result"]["unexpected_count"] == 1
        assert "usual_code" not in {f.rule for f in result.findings}


def test_an_empty_extract_is_checked_and_passes() -> None:
    result = validate_staged(
        AGREEMENT, _staged().slice(0, 0), SUITE, tokens=_tokens().slice(0, 0), arrival_date=ARRIVED
    )
    assert result.rows == 0
    assert result.findings == ()
    assert result.result["meta"]["batches"] == 1  # GX still saw the (empty) columns


def test_only_not_null_and_unique_can_be_left_to_the_hub() -> None:
    suite = json.loads(json.dumps(SUITE))
    allowed = next(e for e in suite["expectations"] if e["meta"]["rule"] == "allowed_values")
    allowed["meta"]["evaluated_by"] = "hub"  # a hand-edited suite: the hub does not do this
    pattern = next(e for e in suite["expectations"] if e["meta"]["rule"] == "pattern")
    del pattern["meta"]["evaluated_by"]  # unmarked: GX evaluates it
    result = validate_staged(AGREEMENT, _staged(), suite, tokens=_tokens(), arrival_date=ARRIVED)
    found = {(f.field, f.rule): f for f in result.findings}
    status = found[("status", "allowed_values")]
    assert (status.status, status.count) == ("error", 0)
    assert (found[("code", "pattern")].status, found[("code", "pattern")].count) == ("failed", 1)
