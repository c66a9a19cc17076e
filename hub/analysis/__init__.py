"""Analyst access: read-only queries over releases, confined to a project's view."""
