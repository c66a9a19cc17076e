"""``hub expectations write`` and ``check``: suites written commit-ready, drift found, exit codes,
and a bad extras file reported as one clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.expectations import app
from tests.conftest import CONTRACTS, ROOT


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, contracts)
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_CONTRACTS_DIR", str(contracts))
    return contracts, tmp_path / "expectations"


def test_write_then_check(folders: tuple[Path, Path]) -> None:
    contracts, expectations = folders
    runner = CliRunner()
    missing = runner.invoke(app, ["check"])
    assert missing.exit_code == 1
    assert "police-sv.json: missing" in missing.output
    expectations.mkdir()
    shutil.copyfile(
        ROOT / "expectations" / "police-sv.extra.json", expectations / "police-sv.extra.json"
    )
    written = runner.invoke(app, ["write"])
    assert written.exit_code == 0, written.output
    assert written.output.count("wrote ") == len(list(contracts.glob("*.yaml")))
    for path in (ROOT / "expectations").glob("*.json"):  # the same as the committed files
        assert (expectations / path.name).read_text() == path.read_text(), path.name
    assert runner.invoke(app, ["check"]).exit_code == 0
    again = runner.invoke(app, ["write"])
    assert "unchanged" in again.output


def test_check_fails_on_a_stale_suite(folders: tuple[Path, Path]) -> None:
    contracts, _ = folders
    runner = CliRunner()
    assert runner.invoke(app, ["write"]).exit_code == 0
    text = (contracts / "schools.yaml").read_text(encoding="utf-8")
    text = text.replace("treatment: keep, required: true}", "treatment: keep}", 1)
    (contracts / "schools.yaml").write_text(text, encoding="utf-8")
    stale = runner.invoke(app, ["check"])
    assert stale.exit_code == 1
    assert "schools.json: stale" in stale.output
    assert "hub expectations write" in stale.output


def test_a_bad_extras_file_is_one_clear_error(folders: tuple[Path, Path]) -> None:
    _, expectations = folders
    expectations.mkdir()
    (expectations / "schools.extra.json").write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "type": "expect_column_mean_to_be_between",
                        "kwargs": {"column": "sessions", "max_value": 3},
                        "meta": {"rule": "mean"},
                    }
                ]
            }
        )
    )
    result = CliRunner().invoke(app, ["write", "--dir", str(expectations)])
    assert result.exit_code == 2
    assert "schools.extra.json: expectation 1 (expect_column_mean_to_be_between)" in result.output
    assert not (expectations / "schools.json").exists()
