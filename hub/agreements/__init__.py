"""Information-sharing agreements: the model, loading, and whether an agreement is in force."""

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
