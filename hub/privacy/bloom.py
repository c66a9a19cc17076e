"""Keyed Bloom-filter encodings of names, for fuzzy matching without the names.

A name is split into bigrams of its canonical form padded with ``_`` (``ANN`` -> ``_A``, ``AN``,
``NN``, ``N_``). Each bigram sets ``HASHES`` of the ``BITS`` bits of the filter, at positions
read from its keyed hash: HMAC-SHA-256 under the keyring's ``encoding`` key with a subkey per name
kind (``bloom:forename``, ``bloom:surname``). Without the key nobody can tell which bits a bigram
sets. Two spellings of a name share most bigrams, so their filters share most bits: the Dice
coefficient ``2 |A & B| / (|A| + |B|)`` is high for typos and transpositions
(``MOHAMMED``/``MOHAMED``: 0.9) and low for different names. Linkage compares them in SQL
(``bit_count`` of the AND).

Encodings live in the linkage zone beside the tokens, once per distinct name:
``encodings.parquet`` holds ``kind`` (forename, surname), the name's ``token`` (as in
``tokens.parquet``) and its ``encoding`` (``fixed_size_binary(BITS / 8)``); linkage joins them to
records by token. They are never published. The schema metadata records the pseudonymisation key
version of the ``token`` column and the encoding key version of the filters.

Why a key of their own: a filter cannot be re-keyed without the name. Under the pseudonymisation
key, every token rotation would have to delete them, and people linked by a fuzzy name match would
come apart after a rotation. So a pseudonymisation rotation re-keys the ``token`` column only
(``hub.privacy.rotation``), and the filters stay under the ``encoding`` key, which rotates on its
own, rarely (when it may be compromised): rotating it deletes every encodings file, and extracts
staged before then compare on exact tokens only (links already made are kept by the linkage
state, ``hub.linkage.state``). The trade-off: whoever holds the encoding key and the encodings
can attack the filters for as long as they are kept (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.keys import DataKey
from hub.privacy.tokens import keyed_hash_chain, rekey
from hub.storage import ZoneStore

BITS = 512  # filter length: 64 bytes
HASHES = 16  # positions per bigram: the sixteen 16-bit words of one HMAC-SHA-256 digest
BYTES = BITS // 8
ENCODING_TYPE = pa.binary(BYTES)
ENCODINGS_FILE = "encodings.parquet"
BLOOM_META = b"svd-hub:bloom"  # the encodings file's schema metadata: "bits=..;hashes=.."
KEY_VERSION_META = b"svd-hub:key_version"  # the token column's pseudonymisation key version
ENCODING_KEY_META = b"svd-hub:encoding_key_version"  # the filters' encoding key version
ENCODING = "encoding"  # the keyring purpose of the filters' key


def bigrams(name: str) -> list[str]:
    """The bigrams of ``name`` padded with ``_`` at both ends; none for an empty name."""
    if not name:
        return []
    padded = f"_{name}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


def dice(a: bytes, b: bytes) -> float:
    """The Dice coefficient of two filters (1.0 for two empty ones)."""
    x = np.unpackbits(np.frombuffer(a, np.uint8))
    y = np.unpackbits(np.frombuffer(b, np.uint8))
    total = int(x.sum() + y.sum())
    return 1.0 if total == 0 else 2 * int((x & y).sum()) / total


class NameEncodings:
    """The distinct name tokens of one extract with their encodings, gathered batch by batch.

    Names already seen in an earlier batch are skipped in Arrow before any per-name work, so the
    cost follows the extract's distinct names, not its batches. The names are held in memory
    only while the extract is processed, as every raw value is.
    """

    def __init__(self, key_version: int, encoding_version: int) -> None:
        self.key_version = key_version
        self.encoding_version = encoding_version
        self._seen: dict[tuple[str, bytes], bytes] = {}
        self._names: dict[str, list[pa.Array]] = {}

    def add(self, encoder: BloomEncoder, names: pa.Array, tokens: pa.Array) -> None:
        """``names`` (canonical, distinct within the batch) of ``encoder``'s kind and their
        ``tokens``."""
        kind, known = encoder.kind, self._names.setdefault(encoder.kind, [])
        if known:
            fresh = pc.invert(pc.is_in(names, value_set=pa.concat_arrays(known)))
            names, tokens = names.filter(fresh), tokens.filter(fresh)
        present = pc.is_valid(names)
        names, tokens = names.filter(present), tokens.filter(present)
        if not len(names):
            return
        known.append(names)
        encodings = encoder.encode(names)
        for token, encoding in zip(tokens.to_pylist(), encodings.to_pylist(), strict=True):
            if token is not None and encoding is not None:
                self._seen.setdefault((kind, token), encoding)

    def table(self) -> pa.Table:
        """The encodings file's table, sorted by kind and token (the same bytes on a rerun)."""
        ordered = sorted(self._seen.items())
        schema = pa.schema(
            [("kind", pa.string()), ("token", pa.binary(32)), ("encoding", ENCODING_TYPE)],
            metadata={
                BLOOM_META: f"bits={BITS};hashes={HASHES}".encode(),
                KEY_VERSION_META: str(self.key_version).encode(),
                ENCODING_KEY_META: str(self.encoding_version).encode(),
            },
        )
        return pa.table(
            [
                pa.array([kind for (kind, _), _ in ordered], pa.string()),
                pa.array([token for (_, token), _ in ordered], pa.binary(32)),
                pa.array([encoding for _, encoding in ordered], ENCODING_TYPE),
            ],
            schema=schema,
        )


class BloomEncoder:
    """Encodes canonical names of one kind (``forename``, ``surname``) under the encoding key
    (``keys`` is a sequence so that a chain could be used; the hub passes the current key only).

    Bigram positions are remembered, so an extract costs one HMAC per distinct bigram and a
    little numpy per distinct name of each call (staging calls it only with names not seen in
    an earlier batch: ``NameEncodings``). Not thread-safe: one encoder per thread.
    """

    def __init__(self, keys: Sequence[DataKey], kind: str) -> None:
        if not keys:
            raise ValueError("a Bloom encoder needs at least one key")
        self.kind = kind
        self._keys = tuple(keys)
        self._domain = f"bloom:{kind}"
        self._positions: dict[str, np.ndarray] = {}

    def _learn(self, grams: set[str]) -> None:
        new = sorted(g for g in grams if g not in self._positions)
        if not new:
            return
        digests = keyed_hash_chain(pa.array(new, pa.string()), self._keys, self._domain)
        raw = np.frombuffer(b"".join(digests.to_pylist()), ">u2")
        words = raw.reshape(len(new), HASHES).astype(np.int64) % BITS
        for gram, positions in zip(new, words, strict=True):
            self._positions[gram] = positions

    def encode(self, names: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The filter of each name (``ENCODING_TYPE``); null for a null name."""
        values: list[str | None] = names.to_pylist()
        distinct = {v for v in values if v is not None}
        self._learn({g for v in distinct for g in bigrams(v)})
        encoded: dict[str, bytes] = {}
        for value in distinct:
            bits = np.zeros(BITS, np.uint8)
            for gram in bigrams(value):
                bits[self._positions[gram]] = 1
            encoded[value] = np.packbits(bits).tobytes()
        return pa.array([None if v is None else encoded[v] for v in values], ENCODING_TYPE)


def encodings_path(tokens_path: str) -> str:
    """The encodings file beside the tokens file at ``tokens_path`` (paths in the linkage zone)."""
    return str(PurePosixPath(tokens_path).with_name(ENCODINGS_FILE))


def encodings_versions(store: ZoneStore, path: str) -> tuple[int, int]:
    """An encodings file's (pseudonymisation key version of its tokens, encoding key version of
    its filters); encoding version 0 for files from before the encoding key existed (their
    filters were made under the pseudonymisation key and compare with nothing now)."""
    metadata = store.read_schema(path).metadata or {}
    return (
        int(metadata.get(KEY_VERSION_META, b"1")),
        int(metadata.get(ENCODING_KEY_META, b"0")),
    )


def rekey_encodings(store: ZoneStore, path: str, key: DataKey, domains: dict[str, str]) -> None:
    """Re-key the ``token`` column of one encodings file in ``store`` a step, to ``key``
    (pseudonymisation), leaving the filters as they are: the file is replaced whole, atomically.
    ``domains`` gives the token domain of each name column (``tok_forename``...) of the extract's
    tokens file; rows of a kind without one are dropped (they would join no record)."""
    table = store.read_parquet(path)
    parts = []
    for kind in sorted(set(table.column("kind").to_pylist())):
        rows = table.filter(pc.equal(table.column("kind"), kind))
        domain = domains.get(f"tok_{kind}")
        if domain is None:
            continue
        tokens = rekey(rows.column("token").combine_chunks(), key, domain)
        parts.append(rows.set_column(1, "token", tokens.cast(pa.binary(32))))
    schema = table.schema.with_metadata(
        {**(table.schema.metadata or {}), KEY_VERSION_META: str(key.version).encode()}
    )
    rekeyed = pa.concat_tables(parts).cast(schema) if parts else schema.empty_table()
    rekeyed = rekeyed.sort_by([("kind", "ascending"), ("token", "ascending")])
    store.write_parquet(path, rekeyed.replace_schema_metadata(schema.metadata))
