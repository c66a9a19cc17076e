"""A key rotation that dies part-way, for the tests that show running it again finishes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from hub.privacy import rotation
from hub.privacy.keys import DataKey
from hub.storage import ZoneStore


class Crash(BaseException):
    """The process dying mid-rotation (not an Exception: nothing may catch and carry on)."""


def crash_after(count: int, real: Callable[..., None]) -> Callable[..., None]:
    """``rotation.rekey_token_file`` that re-keys ``count`` files, then dies while writing the
    next: a partial local work file is left behind, and a partial upload under the temporary
    name in the zone (as another process, pid 99999, would leave them)."""
    calls = {"n": 0}

    def rekey_then_crash(
        store: ZoneStore, item: rotation.TokenFile, key: DataKey, work_dir: Path
    ) -> None:
        calls["n"] += 1
        if calls["n"] > count:
            work_dir.mkdir(parents=True, exist_ok=True)
            (work_dir / "99999-partial-tokens.parquet").write_bytes(b"PAR1 partial")
            partial = PurePosixPath(item.path).with_name(".tokens.parquet.rekey-99999.tmp")
            store.write_bytes(str(partial), b"PAR1 partial")
            raise Crash
        real(store, item, key, work_dir)

    return rekey_then_crash
