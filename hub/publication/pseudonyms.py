"""Person keys analysts see: per release, and per named longitudinal project.

Linkage tokens never leave the linkage zone. What a release carries instead is a *person key*:
the first 16 bytes, as 32 lowercase hex characters, of ``HMAC-SHA256`` (domain ``person``, see
``hub.privacy.tokens``) of each record's cluster representative, under a key only the hub holds:

* ``release_person_keys``: the key is derived from the keyring's ``release`` key and the release
  id, so the same person has a different key in every release and two releases cannot be joined.
  This is ``person_key`` in ``event.parquet`` and ``person.parquet`` of every release.
* ``project_person_keys``: the key is derived from the keyring's ``release`` key and the name of a
  longitudinal project (``Agreement.longitudinal_projects``), *not* the release id, so it is the
  same from one release to the next for that project, and different for every other project.

How a release uses them. Every release has ``person_key`` (per release) for everyone. Then, for
each project that ``projects_allowed`` returns for the day of the release, the release writes a
separate ``projects/<name>/person_keys.parquet`` (``project_key_table``): one row per person,
mapping the release's ``person_key`` to the project's ``project_person_key``, only for people with
at least one event from an agreement that allows the project. Analysts of the project join it to
the release to follow people from release to release; nobody else gets it (analyst access
control, a later issue, restricts who reads ``projects/<name>/``).

Without the release key nothing maps a person key to a linkage token or back: both are outputs
of HMAC under different secret keys, and HMAC-SHA256 is a pseudorandom function. Rotating the
release key (``hub keys rotate --purpose release``) changes every project's keys from the next
release on; ``project_person_keys(..., release_version=old)`` recomputes the old ones, so the hub
can give a project an old-to-new bridge if it must keep following its cohort.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import Agreement
from hub.privacy.keys import DataKey, Keyring
from hub.privacy.tokens import TOKEN_BYTES, keyed_hash

PERSON_DOMAIN = "person"  # the token domain person keys are hashed in
PERSON_KEY_BYTES = 16  # person keys are the first 16 bytes of the MAC: 32 hex characters
PROJECTS_DIR = "projects"  # projects/<name>/person_keys.parquet inside a release
PROJECT_KEYS_FILE = "person_keys.parquet"
_PROJECT_LABEL = b"svd-hub/project/v1/"


def _release_base(keyring: Keyring, release_version: int | None) -> DataKey:
    if release_version is None:
        return keyring.current("release")
    return keyring.get("release", release_version)


def release_key(keyring: Keyring, release_id: str, release_version: int | None = None) -> DataKey:
    """The release-specific key: ``SHA-256(release key || 0x00 || "svd-hub/release/" || id)``,
    under the current release key or the given version of it (a release made before a rotation)."""
    base = _release_base(keyring, release_version)
    secret = hashlib.sha256(base.secret + b"\x00svd-hub/release/" + release_id.encode()).digest()
    return DataKey(f"release:{release_id}", base.version, secret)


def project_key(keyring: Keyring, project: str, release_version: int | None = None) -> DataKey:
    """The project-specific key: ``HMAC-SHA256(release key, "svd-hub/project/v1/" + name)``,
    under the current release key or the given version of it."""
    base = _release_base(keyring, release_version)
    secret = hmac.new(base.secret, _PROJECT_LABEL + project.encode(), hashlib.sha256).digest()
    return DataKey(f"project:{project}", base.version, secret)


def hex_head(macs: pa.Array) -> pa.Array:
    """The first ``PERSON_KEY_BYTES`` of each 32-byte MAC as lowercase hex (nulls stay null),
    without a Python loop per value."""
    n = len(macs)
    width = TOKEN_BYTES
    if n == 0:
        return pa.array([], pa.string())
    data = np.frombuffer(macs.buffers()[1], dtype=np.uint8)
    rows = data[macs.offset * width : (macs.offset + n) * width].reshape(n, width)
    text = rows[:, :PERSON_KEY_BYTES].tobytes().hex().encode("ascii")
    step = 2 * PERSON_KEY_BYTES
    offsets = np.arange(0, n * step + 1, step, dtype=np.int64)
    strings = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    ).cast(pa.string())
    if macs.null_count:
        strings = pc.if_else(macs.is_null(), pa.scalar(None, pa.string()), strings)
    return strings


def _person_keys(representatives: pa.Array | pa.ChunkedArray, key: DataKey) -> pa.Array:
    """32 lowercase hex characters per value (nulls stay null)."""
    return hex_head(keyed_hash(representatives, key, PERSON_DOMAIN))


def release_person_keys(
    representative_tokens: pa.Array | pa.ChunkedArray, keyring: Keyring, release_id: str
) -> pa.Array:
    """Person keys for one release: a different key for the same person in every release."""
    return _person_keys(representative_tokens, release_key(keyring, release_id))


def project_person_keys(
    representative_tokens: pa.Array | pa.ChunkedArray,
    keyring: Keyring,
    project: str,
    *,
    release_version: int | None = None,
) -> pa.Array:
    """Person keys for one longitudinal project: the same in every release, different per
    project. ``release_version`` picks an older release key (for an old-to-new bridge)."""
    return _person_keys(representative_tokens, project_key(keyring, project, release_version))


def projects_allowed(agreements: Mapping[str, Agreement], on: date) -> dict[str, set[str]]:
    """Project name -> ids of the agreements that allow it on ``on``.

    A project is allowed by an agreement from the agreement's ``valid_from`` to the project's
    ``until`` (default, and never later than, the agreement's ``valid_until``). Pass the
    agreements in force (approved, not suspended), as the release's inputs are chosen.
    """
    allowed: dict[str, set[str]] = {}
    for agreement_id, agreement in agreements.items():
        for project in agreement.longitudinal_projects:
            until = min(project.until or agreement.valid_until, agreement.valid_until)
            if agreement.valid_from <= on <= until:
                allowed.setdefault(project.name, set()).add(agreement_id)
    return dict(sorted(allowed.items()))


def project_key_table(
    person_keys: pa.Array | pa.ChunkedArray,
    representative_tokens: pa.Array | pa.ChunkedArray,
    agreement_ids: pa.Array | pa.ChunkedArray,
    keyring: Keyring,
    project: str,
    allowing: set[str],
) -> pa.Table:
    """``projects/<name>/person_keys.parquet`` for one project: one row per person with at least
    one record from an agreement in ``allowing``, ``person_key`` (this release's) ->
    ``project_person_key``, sorted by ``person_key``.

    The three arrays are aligned per record (the release's person keys, the representatives they
    were derived from, and each record's agreement id).
    """
    keys = pa.table(
        {
            "person_key": person_keys,
            "representative": representative_tokens,
            "agreement_id": agreement_ids,
        }
    )
    mask = pc.is_in(keys.column("agreement_id"), value_set=pa.array(sorted(allowing), pa.string()))
    chosen = keys.filter(mask)
    # Everyone with one record from an allowing agreement: every representative is one person.
    people = chosen.group_by(["person_key", "representative"], use_threads=False).aggregate([])
    people = people.filter(pc.is_valid(people.column("person_key"))).sort_by("person_key")
    return pa.table(
        {
            "person_key": people.column("person_key"),
            "project_person_key": project_person_keys(
                people.column("representative"), keyring, project
            ),
        }
    )


def project_keys_path(release_dir: Path, project: str) -> Path:
    """Where a release keeps one project's key table."""
    return release_dir / PROJECTS_DIR / project / PROJECT_KEYS_FILE
