"""The hub's one exception tree.

``UserError`` subclasses are problems the caller can fix (bad input, refused agreement, missing
set-up); ``InfrastructureError`` subclasses are problems of the hub's own environment. The edges map
them once: the CLI to exit codes, the API to HTTP problem documents. Messages never contain row
values or identifiers: they name agreements, fields, row numbers and rules.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    code: str = "hub_error"
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserError(HubError):
    """Something the partner, analyst or operator can fix."""

    code = "user_error"
    exit_code = 2


class AgreementError(UserError):
    """An agreement file is invalid or does not allow the requested action."""

    code = "agreement_invalid"


class ExtractRejectedError(UserError):
    """An extract does not conform to its agreement."""

    code = "extract_rejected"


class NotFoundError(UserError):
    """A named agreement, extract or release does not exist."""

    code = "not_found"


class KeyringError(UserError):
    """The keyring is missing, corrupt or cannot be unwrapped with the master key."""

    code = "keyring_error"


class InfrastructureError(HubError):
    """The hub's own environment failed (database, storage, Airflow)."""

    code = "infrastructure_error"
    exit_code = 3


class IntegrityError(InfrastructureError):
    """Stored data failed an integrity check (authentication tag, checksum)."""

    code = "integrity_error"
