"""Where the zones live: a local folder (the embedded default) or S3-compatible object storage
(production), both through pyarrow's filesystems (``zones``)."""

from hub.storage.zones import ZoneFile, ZoneStore, locate, zone_store

__all__ = ["ZoneFile", "ZoneStore", "locate", "zone_store"]
