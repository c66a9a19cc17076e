"""Exclusive, non-blocking locks between the hub's processes on one machine (``flock``): released
by the operating system when the holder dies, so a crashed run never blocks the run after it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.errors import HubError


@contextmanager
def exclusive(path: Path, busy: HubError) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; raise ``busy`` at once if another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)
