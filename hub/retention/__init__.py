"""Retention: each agreement's ``retention`` applied to the zones (``apply_retention``)."""

from hub.retention.apply import Deletion, RetentionRun, apply_retention

__all__ = ["Deletion", "RetentionRun", "apply_retention"]
