"""Which normaliser and token domain each identifier type uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import Agreement, IdentifierType
from hub.privacy import normalise
from hub.privacy.normalise import Normalised

# Identifier types whose tokens mean the same person across partners (shared domains).
SHARED_DOMAINS = {
    IdentifierType.NHS_NUMBER,
    IdentifierType.UPN,
    IdentifierType.PNC_ID,
    IdentifierType.FORENAME,
    IdentifierType.SURNAME,
    IdentifierType.DATE_OF_BIRTH,
    IdentifierType.POSTCODE,
    IdentifierType.SEX,
}


@cache
def _nicknames() -> dict[str, str]:
    return dict(normalise.default_nicknames())


def _local_reference(values: pa.Array) -> Normalised:
    """A partner's own reference: trimmed, upper-case; blank is missing."""
    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(values, pa.string())))
    blank = pc.or_(pc.is_null(text), pc.equal(text, ""))
    reasons = pc.if_else(blank, "missing", pa.scalar(None, pa.string()))
    return Normalised(values=pc.if_else(blank, pa.scalar(None, pa.string()), text), reasons=reasons)


def normaliser_for(kind: IdentifierType, today: date) -> Callable[[pa.Array], Normalised]:
    """The normaliser for an identifier type; dates of birth are checked against ``today``."""
    table: dict[IdentifierType, Callable[[pa.Array], Normalised]] = {
        IdentifierType.NHS_NUMBER: normalise.nhs_number,
        IdentifierType.UPN: normalise.upn,
        IdentifierType.PNC_ID: normalise.pnc_id,
        IdentifierType.FORENAME: lambda a: normalise.forename(a, nicknames=_nicknames()),
        IdentifierType.SURNAME: normalise.surname,
        IdentifierType.DATE_OF_BIRTH: lambda a: normalise.date_of_birth(a, reference_date=today),
        IdentifierType.POSTCODE: normalise.postcode,
        IdentifierType.SEX: normalise.sex,
    }
    return table.get(kind, _local_reference)


def token_domain(kind: IdentifierType, agreement: Agreement) -> str:
    """Shared identifiers hash in one domain for every partner; local references only within
    their provider (a police person URN means nothing to a hospital)."""
    if kind in SHARED_DOMAINS:
        return kind.value
    return f"{kind.value}:{agreement.provider}"


def token_column(kind: IdentifierType) -> str:
    return f"tok_{kind.value}"


def composite_column(name: str) -> str:
    return f"tok_key_{name}"
