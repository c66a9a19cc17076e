"""Whether an agreement allows a partner to send an extract now. The one place that decides it.

Ingestion and the DAGs ask only ``may_send``; the answer carries a reason a partner can act on.
(Signature verification joins this check when agreements are signed, see docs/agreements.md.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.agreements.model import Agreement, Status


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def may_send(agreement: Agreement, sender_org: str, on: date) -> Decision:
    """May ``sender_org`` send an extract under ``agreement`` on day ``on``?"""
    name = f"agreement {agreement.id} v{agreement.version}"
    if sender_org != agreement.provider:
        return Decision(
            False,
            f"{name} is not {sender_org}'s to send under: its provider is {agreement.provider}",
        )
    if agreement.status is not Status.APPROVED:
        return Decision(
            False, f"{name} is {agreement.status.value.replace('_', ' ')}, not approved"
        )
    if on < agreement.valid_from:
        return Decision(False, f"{name} is not in force until {agreement.valid_from.isoformat()}")
    if on > agreement.valid_until:
        return Decision(False, f"{name} expired on {agreement.valid_until.isoformat()}")
    return Decision(True, f"{name} is approved and in force")
