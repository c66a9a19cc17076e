"""Keyed Bloom-filter name encodings: deterministic under a key, different under another, similar
for a typo and dissimilar for names that share no bigram. The key is fixed and the examples
derandomised, so a failure replays exactly."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.privacy.bloom import BITS, BYTES, HASHES, BloomEncoder, bigrams, dice
from hub.privacy.keys import DataKey

KEY = DataKey("pseudonymisation", 1, bytes(range(32)))
OTHER = DataKey("pseudonymisation", 1, bytes(range(1, 33)))
NEXT = DataKey("pseudonymisation", 2, bytes(range(2, 34)))
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ'- ", min_size=5, max_size=20)
letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _one(encoder: BloomEncoder, name: str) -> bytes:
    value = encoder.encode(pa.array([name])).to_pylist()[0]
    assert isinstance(value, bytes) and len(value) == BYTES
    return value


@settings(derandomize=True, max_examples=200, deadline=None)
@given(names)
def test_an_encoding_is_fixed_by_the_key_and_the_name(name: str) -> None:
    first = _one(BloomEncoder([KEY], "surname"), name)
    assert _one(BloomEncoder([KEY], "surname"), name) == first  # a new encoder, the same bits
    assert _one(BloomEncoder([OTHER], "surname"), name) != first
    assert _one(BloomEncoder([KEY], "forename"), name) != first  # kinds do not compare
    assert _one(BloomEncoder([KEY, NEXT], "surname"), name) != first  # a later key version
    ones = sum(bin(b).count("1") for b in first)
    assert 0 < ones <= len(set(bigrams(name))) * HASHES


@settings(derandomize=True, max_examples=200, deadline=None)
@given(names, st.data())
def test_a_typo_stays_similar(name: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(name) - 1))
    typo = name[:at] + data.draw(st.sampled_from(letters)) + name[at + 1 :]
    encoder = BloomEncoder([KEY], "surname")
    similarity = dice(_one(encoder, name), _one(encoder, typo))
    assert similarity == 1.0 if typo == name else similarity >= 0.55


@settings(derandomize=True, max_examples=200, deadline=None)
@given(names, names)
def test_names_sharing_no_bigram_are_dissimilar(a: str, b: str) -> None:
    if set(bigrams(a)) & set(bigrams(b)):
        return
    encoder = BloomEncoder([KEY], "surname")
    assert dice(_one(encoder, a), _one(encoder, b)) <= 0.5


def test_nulls_stay_null_and_batches_do_not_matter() -> None:
    values = pa.array(["ANN", None, "SMITH", "ANN", ""])
    encoder = BloomEncoder([KEY], "forename")
    together = encoder.encode(values).to_pylist()
    apart = [BloomEncoder([KEY], "forename").encode(values.slice(i, 1)).to_pylist()[0]
             for i in range(len(values))]  # fmt: skip
    assert together == apart
    assert together[1] is None and together[0] == together[3]
    assert together[4] == bytes(BYTES)  # no bigram: no bit set
    assert BITS == BYTES * 8 and bigrams("ANN") == ["_A", "AN", "NN", "N_"]
