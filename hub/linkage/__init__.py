"""Linking people across partners on keyed tokens and encodings: deterministic passes, then
probabilistic matching (``hub.linkage.engine``)."""

from hub.linkage.deterministic import LinkInput, LinkResult, link

__all__ = ["LinkInput", "LinkResult", "link"]
