"""The canonical form of an agreement's terms: the exact bytes data protection leads sign.

The terms are the validated model dumped to JSON with only the keys the author wrote
(``exclude_unset``), so a later release of the hub that adds an optional key with a default does
not change the digest of agreements already signed. Keys are sorted, there is no insignificant
whitespace, text is UTF-8 and dates are ISO 8601: the same terms always give the same bytes,
whatever the YAML's layout, comments or key order.
"""

from __future__ import annotations

import hashlib
import json

from hub.agreements.model import Agreement


def canonical_terms(agreement: Agreement) -> dict[str, object]:
    """The terms as plain JSON values (what the store keeps for each submitted version)."""
    terms: dict[str, object] = agreement.model_dump(mode="json", exclude_unset=True)
    return terms


def canonical_json(terms: dict[str, object]) -> bytes:
    return json.dumps(
        terms, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_bytes(agreement: Agreement) -> bytes:
    return canonical_json(canonical_terms(agreement))


def terms_digest(agreement: Agreement) -> str:
    """SHA-256 of the canonical terms, hex: the identity of one exact version."""
    return hashlib.sha256(canonical_bytes(agreement)).hexdigest()


def digest_of_terms(terms: dict[str, object]) -> str:
    return hashlib.sha256(canonical_json(terms)).hexdigest()
