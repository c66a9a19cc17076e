"""The append-only, hash-chained audit log of approvals, refusals and access decisions."""

from hub.audit.log import AuditVerification, entries, record, verify

__all__ = ["AuditVerification", "entries", "record", "verify"]
