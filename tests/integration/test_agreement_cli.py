"""The agreement workflow through the command line: a lead makes a key, the operator registers it,
the agreement is submitted, both leads sign on their own machines, the token is recorded, and the
audit log verifies. Also lint's exit codes, the diff and the ODCS export."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli.app import app
from tests.conftest import CONTRACTS

PASSPHRASE = "a long enough passphrase"
POLICE_LEAD = ("merseyvale-police", "Priya Raman", "dpo@merseyvale-police.example")
HUB_LEAD = ("merseyvale-vrp", "Tom Ashworth", "ig@merseyvale-vrp.example")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(tmp_path / "var"),
        "HUB_KEY_DIR": str(tmp_path / "keys"),
        "HUB_MASTER_KEY_FILE": str(tmp_path / "secrets" / "master.key"),
        "HUB_CONTRACTS_DIR": str(CONTRACTS),
        "HUB_SIGNING_PASSPHRASE": PASSPHRASE,
    }.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_leads_approve_through_the_command_line(hub: CliRunner, tmp_path: Path) -> None:
    contract = str(CONTRACTS / "police-sv.yaml")
    assert "draft" in _ok(hub, "agreement", "list")
    assert "submitted; digest" in _ok(hub, "agreement", "submit", contract)
    for org, name, email in (POLICE_LEAD, HUB_LEAD):
        key = tmp_path / "leads" / f"{org}.key"
        _ok(
            hub,
            "signers",
            "keygen",
            "--org",
            org,
            "--name",
            name,
            "--email",
            email,
            "--out",
            str(key),
        )
        assert b"ENCRYPTED" in key.read_bytes()
        _ok(hub, "signers", "register", str(key) + ".pub.json")
        token = _ok(hub, "agreement", "sign", contract, "--key", str(key)).strip()
        assert token.startswith("svdhub-approval-v1.")
        last = _ok(hub, "agreement", "approve", token)
    assert "approved and in force" in last
    listing = _ok(hub, "agreement", "list")
    assert "approved" in listing
    suspended = _ok(
        hub,
        "agreement",
        "suspend",
        "police-sv",
        "--version",
        "1",
        "--org",
        "merseyvale-police",
        "--reason",
        "audit of the feed",
    )
    assert "suspended by merseyvale-police" in suspended
    assert "intact: 7 entries" in _ok(hub, "audit", "verify")
    assert "agreement.suspended" in _ok(hub, "audit", "show", "--subject", "agreement:police-sv")
    odcs = yaml.safe_load(_ok(hub, "agreement", "export", "police-sv", "--odcs"))
    assert odcs["status"] == "deprecated"


def test_signing_by_id_needs_the_digest(hub: CliRunner, tmp_path: Path) -> None:
    key = tmp_path / "lead.key"
    _ok(
        hub,
        "signers",
        "keygen",
        "--org",
        POLICE_LEAD[0],
        "--name",
        POLICE_LEAD[1],
        "--email",
        POLICE_LEAD[2],
        "--out",
        str(key),
    )
    result = hub.invoke(app, ["agreement", "sign", "police-sv", "--key", str(key)])
    assert result.exit_code == 2
    assert "needs --version and --digest" in result.output


def test_a_bad_token_is_one_clear_line(hub: CliRunner) -> None:
    result = hub.invoke(app, ["agreement", "approve", "not-a-token"])
    assert result.exit_code == 2
    assert "error: this is not an approval token" in result.output
    assert "Traceback" not in result.output


def test_lint_exit_codes(hub: CliRunner, tmp_path: Path) -> None:
    assert "0 failed" in _ok(hub, "agreement", "lint", *map(str, sorted(CONTRACTS.glob("*.yaml"))))
    broken = tmp_path / "broken.yaml"
    text = (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("suppress_at_or_below: 7", "suppress_at_or_below: 3"))
    result = hub.invoke(app, ["agreement", "lint", str(broken)])
    assert result.exit_code == 1
    assert "disclosure" in result.output


def test_diff_between_two_files(hub: CliRunner, tmp_path: Path) -> None:
    new = tmp_path / "v2.yaml"
    text = (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")
    new.write_text(
        text.replace("version: 1", "version: 2").replace("staging_days: 2555", "staging_days: 3650")
    )
    output = _ok(hub, "agreement", "diff", str(CONTRACTS / "police-sv.yaml"), str(new))
    assert "v1 -> v2" in output
    assert "staging" in output


def test_accounts_are_added_and_disabled_with_an_audit_trail(hub: CliRunner) -> None:
    args = [
        "users",
        "add",
        "--email",
        "Lead@Example.org",
        "--name",
        "A Lead",
        "--org",
        "merseyvale-police",
        "--role",
        "data_protection_lead",
        "--password-stdin",
    ]
    result = hub.invoke(app, args, input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "lead@example.org" in _ok(hub, "users", "list")
    again = hub.invoke(app, args, input="a long enough password\n")
    assert again.exit_code == 2
    bad_role = hub.invoke(app, [*args[:-2], "wizard", "--password-stdin"], input="x" * 20 + "\n")
    assert "unknown role 'wizard'" in bad_role.output
    _ok(hub, "users", "disable", "lead@example.org")
    trail = _ok(hub, "audit", "show", "--subject", "user:lead@example.org")
    assert "user.added" in trail
    assert "user.disabled" in trail
