"""Information-sharing agreements: the model, lint and loading, the lifecycle and signatures
(``lifecycle``, ``registry``, ``signing``), plain words, diff, risk flags and ODCS export."""

from hub.agreements.loader import get_agreement, load_agreement, load_agreements
from hub.agreements.model import Agreement, FieldSpec, Status, Treatment

__all__ = [
    "Agreement",
    "FieldSpec",
    "Status",
    "Treatment",
    "get_agreement",
    "load_agreement",
    "load_agreements",
]
