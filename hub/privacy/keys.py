"""Key management: data keys wrapped under a master key (AES-256-GCM envelope encryption).

The keyring file (``keys/keyring.json``) holds every data key *wrapped*; it is useless without the
master key, which comes from ``HUB_MASTER_KEY`` (base64), ``HUB_MASTER_KEY_FILE``, or in development
a generated file under the data directory. Production can plug in a KMS or vault by implementing
``MasterKeyProvider``. A missing or corrupt keyring is an error, never a reason to make new keys
silently: new keys would break linkage with everything already pseudonymised.

Keys rotate by adding a version (``Keyring.rotate``); old versions are kept, because sealed landing
files name the version that wrapped them and pseudonymisation tokens are a chain over every
version (``hub.privacy.rotation``).

The purposes: ``pseudonymisation`` (tokens), ``landing`` (sealing landing files), ``release``
(release person keys) and ``encoding`` (the positions of name bigrams in the keyed Bloom filters
used for fuzzy linkage, ``hub.privacy.bloom``: kept apart from pseudonymisation because a filter
cannot be re-keyed without the name, so it must survive token rotations). A keyring made before a
purpose existed gets version 1 of it the first time it is opened (under a lock, so two processes
cannot add two different keys).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import importlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import KeyringError
from hub.settings import Settings

KEYRING_FORMAT = "svd-hub-keyring"
KEYRING_FILE = "keyring.json"
PURPOSES = ("pseudonymisation", "landing", "release", "encoding")

log = logging.getLogger(__name__)
_NONCE = 12


class MasterKeyProvider(Protocol):
    """Wraps and unwraps data keys. Implementations: a local key, or a KMS/vault client."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes: ...


class LocalMasterKey:
    """A 256-bit master key held in this process (from the environment or a key file)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise KeyringError(
                "the master key must be 32 bytes (base64 of 32 random bytes)",
                hint="generate one with: python -c 'import os,base64;"
                "print(base64.b64encode(os.urandom(32)).decode())'",
            )
        self._aead = AESGCM(key)
        # A key check value: identifies the master key without revealing it.
        self._key_id = hmac.new(key, b"svd-hub master key check", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LocalMasterKey(key_id={self._key_id})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise KeyringError(
                "a wrapped key failed its integrity check",
                hint="the keyring file was altered or belongs to another master key; "
                "restore keys/keyring.json from backup",
            ) from None


def _decode_master(text: str, source: str) -> LocalMasterKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyringError(f"the master key in {source} is not valid base64") from None
    return LocalMasterKey(raw)


def master_key_from_settings(settings: Settings, *, create_dev: bool = False) -> LocalMasterKey:
    """The configured master key. With ``create_dev`` (``hub keys init`` outside production) a
    missing key file is generated; without a configured file, development uses one under the
    data directory."""
    if settings.master_key is not None:
        return _decode_master(settings.master_key.get_secret_value(), "HUB_MASTER_KEY")
    path = settings.master_key_file
    if path is None:
        if settings.env == "production":
            raise KeyringError("no master key configured", hint="set HUB_MASTER_KEY_FILE")
        path = settings.dev_master_key_file
    if not path.exists() and create_dev:
        write_private(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
    if not path.exists():
        raise KeyringError(
            f"master key file {path} does not exist",
            hint="set HUB_MASTER_KEY or HUB_MASTER_KEY_FILE, or run `hub keys init` in development",
        )
    return _decode_master(path.read_text(encoding="ascii"), str(path))


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically (a crash leaves the old file or the new
    one, never a mixture)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DataKey:
    """One version of a data key for one purpose. The secret never appears in repr or str."""

    purpose: str
    version: int
    secret: bytes = field(repr=False)

    @property
    def label(self) -> str:
        """Names the key without revealing it, e.g. ``pseudonymisation/v1``."""
        return f"{self.purpose}/v{self.version}"


def _aad(purpose: str, version: int) -> bytes:
    return f"{KEYRING_FORMAT}:{purpose}:{version}".encode()


class Keyring:
    """The hub's data keys for pseudonymisation, landing-zone encryption and release pseudonyms."""

    def __init__(
        self,
        path: Path,
        master: MasterKeyProvider,
        keys: list[DataKey],
        created: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self._master = master
        self._keys = keys
        self._created = dict(created or {})  # key label -> when it was made

    def __repr__(self) -> str:
        return f"Keyring(path={self.path}, keys={[k.label for k in self._keys]})"

    @classmethod
    def create(cls, key_dir: Path, master: MasterKeyProvider) -> Keyring:
        """A new keyring with version 1 of every purpose; refuses to overwrite an existing one."""
        path = key_dir / KEYRING_FILE
        if path.exists():
            raise KeyringError(
                f"a keyring already exists at {path}",
                hint="rotate keys with `hub keys rotate` instead of creating a new keyring",
            )
        ring = cls(path, master, [DataKey(p, 1, secrets.token_bytes(32)) for p in PURPOSES])
        ring.save()
        return ring

    @classmethod
    def load(cls, key_dir: Path, master: MasterKeyProvider) -> Keyring:
        """The keyring in ``key_dir``; a purpose it lacks (made before the purpose existed) is
        added at version 1 and saved, under a lock."""
        ring = cls._read(key_dir, master)
        if all(ring.versions(p) for p in PURPOSES):
            return ring
        with _locked(key_dir):
            ring = cls._read(key_dir, master)  # another process may have added them meanwhile
            missing = [p for p in PURPOSES if not ring.versions(p)]
            if missing:
                ring._keys.extend(DataKey(p, 1, secrets.token_bytes(32)) for p in missing)
                try:
                    ring.save()
                except OSError as exc:
                    raise KeyringError(
                        f"the keyring at {key_dir / KEYRING_FILE} has no {', '.join(missing)} "
                        f"key yet and cannot be saved with one ({exc.strerror})",
                        hint="run `hub keys status` once as a user who can write the key "
                        "directory; it adds the key",
                    ) from None
                log.warning("added version 1 of the %s key to the keyring", ", ".join(missing))
        return ring

    @classmethod
    def _read(cls, key_dir: Path, master: MasterKeyProvider) -> Keyring:
        path = key_dir / KEYRING_FILE
        if not path.exists():
            raise KeyringError(
                f"no keyring at {path}",
                hint="run `hub keys init` once per installation, or restore keys/keyring.json "
                "from backup (a new keyring cannot link to data pseudonymised before)",
            )
        corrupt = KeyringError(
            f"the keyring at {path} is corrupt", hint="restore keys/keyring.json from backup"
        )
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != KEYRING_FORMAT:
                raise ValueError("format")
            entries = doc["keys"]
            stored_id = doc["master_key_id"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise ValueError("keys")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise corrupt from None
        if stored_id != master.key_id:
            raise KeyringError(
                f"the keyring at {path} was made with a different master key",
                hint="set HUB_MASTER_KEY / HUB_MASTER_KEY_FILE to the master key of this keyring",
            )
        keys: list[DataKey] = []
        created: dict[str, str] = {}
        for entry in entries:
            try:
                purpose, version = str(entry["purpose"]), int(entry["version"])
                blob = base64.b64decode(entry["wrapped"], validate=True)
            except (ValueError, KeyError, TypeError):
                raise corrupt from None
            key = DataKey(purpose, version, master.unwrap(blob, _aad(purpose, version)))
            if any(k.label == key.label for k in keys):
                raise KeyringError(
                    f"the keyring at {path} holds {key.label} twice",
                    hint="restore keys/keyring.json from backup",
                )
            keys.append(key)
            if isinstance(entry.get("created_at"), str):
                created[key.label] = entry["created_at"]
        return cls(path, master, keys, created)

    def save(self) -> None:
        """Write every key, wrapped, to the keyring file (atomically; owner-only)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        doc = {
            "format": KEYRING_FORMAT,
            "master_key_id": self._master.key_id,
            "keys": [
                {
                    "purpose": k.purpose,
                    "version": k.version,
                    "created_at": self._created.setdefault(k.label, now),
                    "wrapped": base64.b64encode(
                        self._master.wrap(k.secret, _aad(k.purpose, k.version))
                    ).decode(),
                }
                for k in sorted(self._keys, key=lambda k: (k.purpose, k.version))
            ],
        }
        write_private(self.path, json.dumps(doc, indent=2).encode() + b"\n")

    def current(self, purpose: str) -> DataKey:
        """The newest version of the key for ``purpose``."""
        candidates = [k for k in self._keys if k.purpose == purpose]
        if not candidates:
            raise KeyringError(f"the keyring has no {purpose} key", hint="restore from backup")
        return max(candidates, key=lambda k: k.version)

    def get(self, purpose: str, version: int) -> DataKey:
        for key in self._keys:
            if key.purpose == purpose and key.version == version:
                return key
        raise KeyringError(
            f"the keyring has no {purpose} key version {version}",
            hint="the data was sealed or pseudonymised with a key this keyring lacks; restore "
            "keys/keyring.json from a backup made after that version was added",
        )

    def versions(self, purpose: str) -> list[int]:
        """The versions held for ``purpose``, oldest first."""
        return sorted(k.version for k in self._keys if k.purpose == purpose)

    def created_at(self, key: DataKey) -> str | None:
        """When a key version was made (ISO 8601, UTC), if the keyring recorded it."""
        return self._created.get(key.label)

    def chain(self, purpose: str, upto: int | None = None) -> list[DataKey]:
        """Versions 1..``upto`` (default: the current one) in order: the keys a pseudonymisation
        token is hashed under, one after another. A missing version is an error."""
        last = self.current(purpose).version if upto is None else upto
        return [self.get(purpose, version) for version in range(1, last + 1)]

    def rotate(self, purpose: str) -> DataKey:
        """Add version n+1 of the key for ``purpose`` and save the keyring; older versions stay.

        Refuses when the keyring file changed since this keyring was loaded (another process
        rotated): saving would drop the version it added.
        """
        if purpose not in PURPOSES:
            raise KeyringError(
                f"unknown key purpose {purpose!r}", hint=f"purposes are {', '.join(PURPOSES)}"
            )
        with _locked(self.path.parent):
            on_disk = Keyring._read(self.path.parent, self._master)
            if sorted(k.label for k in on_disk._keys) != sorted(k.label for k in self._keys):
                raise KeyringError(
                    f"the keyring at {self.path} changed since it was loaded",
                    hint="another process rotated a key; load the keyring again and retry",
                )
            key = DataKey(purpose, self.current(purpose).version + 1, secrets.token_bytes(32))
            self._keys.append(key)
            try:
                self.save()
            except BaseException:
                self._keys.remove(key)
                self._created.pop(key.label, None)
                raise
        return key


@contextmanager
def _locked(key_dir: Path) -> Iterator[None]:
    """Exclusive use of the keyring file while a process adds keys to it (a lock on the key
    directory itself: the file is replaced on every save, and no lock file is left beside it)."""
    fd = os.open(key_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def master_key_provider(settings: Settings, *, create_dev: bool = False) -> MasterKeyProvider:
    """The configured master key provider: a KMS or vault client named by
    ``HUB_MASTER_KEY_PROVIDER`` (``package.module:factory``, called with the settings), or the
    local master key from ``HUB_MASTER_KEY`` / ``HUB_MASTER_KEY_FILE``."""
    spec = settings.master_key_provider
    if spec is None:
        return master_key_from_settings(settings, create_dev=create_dev)
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise KeyringError(
            f"cannot load the master key provider {spec!r}",
            hint="HUB_MASTER_KEY_PROVIDER names `package.module:factory`, importable by the hub",
        ) from None
    provider = factory(settings)
    missing = [name for name in ("key_id", "wrap", "unwrap") if not hasattr(provider, name)]
    if missing:
        raise KeyringError(
            f"the master key provider {spec!r} lacks {', '.join(missing)}",
            hint="a provider implements hub.privacy.keys.MasterKeyProvider",
        )
    return cast(MasterKeyProvider, provider)


def open_keyring(settings: Settings) -> Keyring:
    """Load the installation's keyring with its configured master key."""
    return Keyring.load(settings.key_dir, master_key_provider(settings))


def init_keyring(settings: Settings) -> Keyring:
    """Create the keyring (and a development master key when none is configured)."""
    master = master_key_provider(settings, create_dev=settings.env != "production")
    return Keyring.create(settings.key_dir, master)
