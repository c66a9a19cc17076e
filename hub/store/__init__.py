"""The hub's metadata store: extracts, releases, agreements and approvals, audit, web users,
partner API credentials, users' API tokens."""

from hub.store.database import make_engine, session_scope, upgrade
from hub.store.schema import (
    AgreementEvent,
    AgreementSignature,
    AgreementVersion,
    ApiToken,
    AuditEntry,
    Extract,
    PartnerCredential,
    Release,
    ReleaseInput,
    User,
    WebSession,
)

__all__ = [
    "AgreementEvent",
    "AgreementSignature",
    "AgreementVersion",
    "ApiToken",
    "AuditEntry",
    "Extract",
    "PartnerCredential",
    "Release",
    "ReleaseInput",
    "User",
    "WebSession",
    "make_engine",
    "session_scope",
    "upgrade",
]
