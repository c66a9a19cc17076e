"""The hub's metadata store: extracts, releases (and later agreements, approvals, audit)."""

from hub.store.database import make_engine, session_scope, upgrade
from hub.store.schema import Extract, Release, ReleaseInput

__all__ = ["Extract", "Release", "ReleaseInput", "make_engine", "session_scope", "upgrade"]
