"""Linking people across partners on keyed tokens (deterministic passes for now)."""

from hub.linkage.deterministic import LinkInput, LinkResult, link

__all__ = ["LinkInput", "LinkResult", "link"]
