"""The committed suites in expectations/ are exactly what the agreements (and hand-written
extras) generate, and Great Expectations accepts every one of them whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.quality.suites import check_suites, expectations_dir_for, suite_path
from tests.conftest import CONTRACTS, ROOT

EXPECTATIONS = ROOT / "expectations"
AGREEMENT_IDS = sorted(p.stem for p in CONTRACTS.glob("*.yaml"))


def test_the_suite_files_are_up_to_date() -> None:
    assert expectations_dir_for(CONTRACTS) == EXPECTATIONS
    drift = check_suites(CONTRACTS, EXPECTATIONS)
    assert drift == [], (
        f"expectations/ is out of step with contracts/: {', '.join(map(str, drift))}; "
        "run `hub expectations write` and commit the result"
    )


def test_the_drift_check_sees_an_edited_suite(tmp_path: Path) -> None:
    copy = tmp_path / "expectations"
    copy.mkdir()
    for path in EXPECTATIONS.glob("*.json"):
        (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    police = suite_path(copy, "police-sv")
    suite = json.loads(police.read_text(encoding="utf-8"))
    suite["expectations"].pop()
    police.write_text(json.dumps(suite), encoding="utf-8")
    suite_path(copy, "schools").unlink()
    (copy / "retired.json").write_text("{}", encoding="utf-8")
    found = {(d.path.name, d.problem) for d in check_suites(CONTRACTS, copy)}
    assert found == {
        ("police-sv.json", "stale"),
        ("schools.json", "missing"),
        ("retired.json", "orphan"),
    }


@pytest.mark.parametrize("agreement_id", AGREEMENT_IDS)
def test_gx_loads_every_committed_suite_whole(agreement_id: str) -> None:
    from great_expectations.core import ExpectationSuite

    raw = json.loads(suite_path(EXPECTATIONS, agreement_id).read_text(encoding="utf-8"))
    suite = ExpectationSuite(**raw)  # GX drops an invalid expectation with only a log line
    assert suite.name == agreement_id
    assert len(suite.expectations) == len(raw["expectations"])
