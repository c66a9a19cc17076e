"""Leads' signing keys and approval tokens; the canonical form of an agreement's terms."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from hub.agreements import get_agreement
from hub.agreements.canonical import canonical_bytes, terms_digest
from hub.agreements.model import Agreement
from hub.agreements.signing import (
    STATEMENT_CONTEXT,
    SignedApproval,
    SignerDirectory,
    load_private_key,
    new_signer,
    save_private_key,
    sign_approval,
    verify_approval,
)
from hub.errors import AgreementError, KeyringError
from tests.conftest import CONTRACTS

AGREEMENT = get_agreement(CONTRACTS, "police-sv")
EMAIL = "dpo@merseyvale-police.example"
PASSPHRASE = "correct horse battery staple"


def _approval(directory: SignerDirectory) -> SignedApproval:
    private, public = new_signer("merseyvale-police", "Priya Raman", EMAIL)
    directory.register(public)
    return sign_approval(
        private,
        agreement_id=AGREEMENT.id,
        version=1,
        digest=terms_digest(AGREEMENT),
        org="merseyvale-police",
        signer_email=EMAIL,
    )


def test_a_token_round_trips_and_verifies(tmp_path: Path) -> None:
    directory = SignerDirectory.load(tmp_path)
    approval = _approval(directory)
    token = approval.to_token()
    assert "\n" not in token
    again = SignedApproval.from_token(" " + token[:40] + "\n" + token[40:] + " ")
    assert again == approval
    assert verify_approval(again, SignerDirectory.load(tmp_path)) is None
    assert approval.statement.message().startswith(STATEMENT_CONTEXT)


@pytest.mark.parametrize("token", ["hello", "svdhub-approval-v1.!!!", "svdhub-approval-v1.e30"])
def test_a_damaged_token_is_a_clear_error(token: str) -> None:
    with pytest.raises(AgreementError, match="token"):
        SignedApproval.from_token(token)


def test_a_changed_statement_does_not_verify(tmp_path: Path) -> None:
    directory = SignerDirectory.load(tmp_path)
    approval = _approval(directory)
    later = approval.statement.__class__(**{**approval.statement.__dict__, "version": 2})
    reason = verify_approval(SignedApproval(later, approval.signature), directory)
    assert reason == "the signature of merseyvale-police does not verify"


def test_a_key_registered_to_someone_else_does_not_verify(tmp_path: Path) -> None:
    directory = SignerDirectory.load(tmp_path)
    approval = _approval(directory)
    claimed = approval.statement.__class__(
        **{**approval.statement.__dict__, "org": "merseyvale-vrp"}
    )
    reason = verify_approval(SignedApproval(claimed, approval.signature), directory)
    assert reason is not None
    assert "is registered to dpo@merseyvale-police.example of merseyvale-police" in reason


def test_an_edited_public_key_file_is_refused(tmp_path: Path) -> None:
    _, public = new_signer("merseyvale-police", "Priya Raman", EMAIL)
    path = SignerDirectory.load(tmp_path).register(public)
    _, other = new_signer("merseyvale-police", "Priya Raman", EMAIL)
    doc = json.loads(path.read_text())
    doc["public_key"] = other.to_json()["public_key"]
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="key id does not match"):
        SignerDirectory.load(tmp_path)


def test_private_keys_are_written_encrypted_for_the_owner_only(tmp_path: Path) -> None:
    private, _ = new_signer("merseyvale-police", "Priya Raman", EMAIL)
    path = tmp_path / "lead.key"
    save_private_key(private, path, PASSPHRASE)
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path, PASSPHRASE)
    assert loaded.public_key() == private.public_key()
    with pytest.raises(KeyringError, match="cannot open signing key"):
        load_private_key(path, "not the passphrase")
    with pytest.raises(KeyringError, match="refusing to overwrite"):
        save_private_key(private, path, PASSPHRASE)
    with pytest.raises(KeyringError, match="at least 12"):
        save_private_key(private, tmp_path / "short.key", "short")


def test_the_digest_ignores_layout_but_not_content() -> None:
    text = (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    reordered = Agreement.model_validate(dict(reversed(list(doc.items()))))
    assert canonical_bytes(reordered) == canonical_bytes(AGREEMENT)
    changed = Agreement.model_validate({**doc, "title": doc["title"] + "."})
    assert terms_digest(changed) != terms_digest(AGREEMENT)


def test_the_canonical_form_is_what_the_author_wrote() -> None:
    """Defaults the author did not write stay out, so a later optional key with a default
    cannot change the digest of agreements signed before it existed."""
    canonical = json.loads(canonical_bytes(AGREEMENT))
    assert "change_note" not in canonical
    assert "timezone" not in canonical["delivery"]
