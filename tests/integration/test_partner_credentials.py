"""Partner API credentials on the metadata store (SQLite, and PostgreSQL when configured):
issued once, stored only as a hash, scoped to an organisation, revoked at once, and audited;
the ``hub partners`` commands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from hub import audit
from hub.cli import partners
from hub.errors import NotFoundError, UserError
from hub.ingestion.credentials import (
    TOKEN_PREFIX,
    authenticate_partner,
    issue_credential,
    list_credentials,
    revoke_credential,
)
from hub.store import PartnerCredential, make_engine, session_scope, upgrade
from tests.conftest import make_settings


@pytest.fixture
def store(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


def test_a_token_is_shown_once_and_only_its_hash_is_stored(store: Engine) -> None:
    credential_id, token = issue_credential(store, "merseyvale-police", "Niche RMS nightly")
    assert token.startswith(f"{TOKEN_PREFIX}{credential_id}_")
    assert len(token) > len(TOKEN_PREFIX) + 16 + 40  # 32 random bytes as base64
    with session_scope(store) as session:
        row = session.scalars(select(PartnerCredential)).one()
        stored = [str(v) for v in vars(row).values()]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # the secret is URL-safe base64, which may itself contain "_": take all of it
    secret = token.removeprefix(f"{TOKEN_PREFIX}{credential_id}_")
    assert not any(token in value or secret in value for value in stored)


def test_authentication_finds_the_organisation_and_refuses_anything_else(store: Engine) -> None:
    credential_id, token = issue_credential(store, "merseyvale-police", "Niche RMS nightly")
    credential = authenticate_partner(store, token)
    assert credential is not None
    assert (credential.id, credential.org, credential.active) == (
        credential_id,
        "merseyvale-police",
        True,
    )
    for wrong in ("", "nonsense", token[:-1], token + "x", f"{TOKEN_PREFIX}{'0' * 16}_abc"):
        assert authenticate_partner(store, wrong) is None


def test_a_revoked_credential_stops_working_at_once_and_both_steps_are_audited(
    store: Engine,
) -> None:
    credential_id, token = issue_credential(store, "merseyvale-police", "Niche", actor="cli:ops")
    revoked = revoke_credential(store, credential_id, actor="cli:ops")
    assert revoked.revoked_at is not None
    assert authenticate_partner(store, token) is None
    revoke_credential(store, credential_id, actor="cli:ops")  # again: nothing changes
    actions = [(e.action, e.subject) for e in reversed(audit.entries(store))]
    subject = f"partner_credential:{credential_id}"
    assert actions == [
        ("partner_credential.issued", subject),
        ("partner_credential.revoked", subject),
    ]
    assert audit.verify(store).ok


def test_names_are_unique_per_organisation_among_active_credentials(store: Engine) -> None:
    first, _ = issue_credential(store, "merseyvale-police", "Niche")
    with pytest.raises(UserError, match="already has an active credential"):
        issue_credential(store, "merseyvale-police", "Niche")
    issue_credential(store, "merseyvale-hospitals", "Niche")  # another organisation's
    revoke_credential(store, first)
    issue_credential(store, "merseyvale-police", "Niche")  # a replacement
    listed = list_credentials(store)
    assert [(c.org, c.active) for c in listed] == [
        ("merseyvale-hospitals", True),
        ("merseyvale-police", False),
        ("merseyvale-police", True),
    ]
    assert len(list_credentials(store, "merseyvale-police")) == 2


def test_bad_input_is_refused(store: Engine) -> None:
    with pytest.raises(UserError, match="not an organisation id"):
        issue_credential(store, "Merseyvale Police", "Niche")
    with pytest.raises(UserError, match="needs the name"):
        issue_credential(store, "merseyvale-police", "  ")
    with pytest.raises(NotFoundError):
        revoke_credential(store, "0123456789abcdef")


def test_the_partners_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path)
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HUB_KEY_DIR", str(settings.key_dir))
    monkeypatch.setenv("HUB_MASTER_KEY_FILE", str(settings.master_key_file))
    runner = CliRunner()
    issued = runner.invoke(
        partners.app, ["issue", "--org", "merseyvale-police", "--name", "Niche RMS"]
    )
    assert issued.exit_code == 0, issued.output
    assert "merseyvale-police provides data under: police-sv" in issued.output
    token = next(w for w in issued.output.split() if w.startswith(TOKEN_PREFIX))
    stranger = runner.invoke(partners.app, ["issue", "--org", "merseyvale-zoo", "--name", "X"])
    assert stranger.exit_code == 0, stranger.output
    assert "no agreement" in stranger.output and "refused" in stranger.output
    engine = make_engine(settings.metadata_url)
    try:
        credential = authenticate_partner(engine, token)
        assert credential is not None
        listed = runner.invoke(partners.app, ["list"])
        assert listed.exit_code == 0, listed.output
        assert credential.id in listed.output
        assert token not in listed.output
        revoked = runner.invoke(partners.app, ["revoke", credential.id])
        assert revoked.exit_code == 0, revoked.output
        assert authenticate_partner(engine, token) is None
        missing = runner.invoke(partners.app, ["revoke", "0123456789abcdef"])
        assert missing.exit_code == 2
        assert "no partner credential" in missing.output
    finally:
        engine.dispose()
