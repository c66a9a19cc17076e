"""Shared vectorised building blocks for the normalisers (private).

Everything here works on whole pyarrow arrays; nothing loops over values in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.normalise.result import Normalised, NormalisedValue

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray

NULL_STRING = pa.scalar(None, pa.string())
# Separators that the code-like identifiers drop: ASCII and Unicode whitespace.
WHITESPACE = r"[\s\p{Z}]+"


def to_array(arr: ArrayLike) -> pa.Array:
    """A single contiguous array, with dictionaries decoded."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not isinstance(arr, pa.Array):
        raise TypeError("normalisers take a pyarrow Array or ChunkedArray")
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def as_text(arr: ArrayLike) -> pa.Array:
    """The input as a ``pa.string()`` array (nulls kept).

    Strings, large strings, string views, nulls, integers, booleans, dates and timestamps are
    accepted; any other type is a schema error (the message names the type, never a value).
    """
    arr = to_array(arr)
    kind = arr.type
    if pa.types.is_null(kind):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_string(kind):
        return arr
    if (
        pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
    ):
        return pc.cast(arr, pa.string())
    raise TypeError(f"unsupported input type for a normaliser: {kind}")


def apply_where(
    text: pa.Array, mask: pa.Array, transform: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """``transform`` applied only to the rows where ``mask`` is true (null counts as false).

    Most values of a clean extract need no work (already ASCII, already digits); running the costly
    kernels on the rest alone is what keeps a million rows at well under a second.
    """
    mask = pc.fill_null(mask, False)
    selected = pc.sum(mask).as_py() or 0
    if selected == 0:
        return text
    if selected == len(text):
        return transform(text)
    return pc.replace_with_mask(text, mask, transform(pc.filter(text, mask)))


def non_ascii(text: pa.Array) -> pa.Array:
    return pc.invert(pc.fill_null(pc.string_is_ascii(text), True))


def unicode_normalise(text: pa.Array, form: str = "NFKC") -> pa.Array:
    """Unicode normal form, computed only for the rows that are not plain ASCII."""
    return apply_where(text, non_ascii(text), lambda rows: pc.utf8_normalize(rows, form=form))


def is_blank(text: pa.Array) -> pa.Array:
    """True where the value is null, empty or only (Unicode) whitespace."""
    length = pc.utf8_length(pc.utf8_trim_whitespace(text))
    return pc.fill_null(pc.equal(length, 0), True)


def remove(text: pa.Array, pattern: str) -> pa.Array:
    return pc.replace_substring_regex(text, pattern=pattern, replacement="")


def matches(text: pa.Array, pattern: str) -> pa.Array:
    """Regex match as a mask with nulls read as false."""
    return pc.fill_null(pc.match_substring_regex(text, pattern=pattern), False)


def first_reason(length: int, rules: Sequence[tuple[pa.Array, str]]) -> pa.Array:
    """Reason per row: the code of the first rule whose mask is true there, else null."""
    reasons = pa.nulls(length, pa.string())
    for mask, code in reversed(rules):
        reasons = pc.if_else(pc.fill_null(mask, False), code, reasons)
    return reasons


def finish(candidate: pa.Array, reasons: pa.Array) -> Normalised:
    """Keep the candidate value where the row has no reason; null elsewhere."""
    values = pc.if_else(pc.is_null(reasons), pc.cast(candidate, pa.string()), NULL_STRING)
    return Normalised(values=values, reasons=reasons)


def digit_at(digits: pa.Array, position: int) -> pa.Array:
    """Integer value of the character at ``position`` of ASCII digit strings."""
    # Byte slices are cheaper than code-point slices, and the strings are ASCII.
    raw = pc.cast(digits, pa.binary())
    return pc.cast(pc.binary_slice(raw, start=position, stop=position + 1), pa.int64())


def weighted_digit_sum(digits: pa.Array, weights: Mapping[int, int]) -> pa.Array:
    """Sum of ``weight * digit`` over the positions in ``weights`` (position -> weight).

    The running total is kept as one array, so memory stays at a few columns whatever the width.
    """
    total = pa.repeat(pa.scalar(0, pa.int64()), len(digits))
    for position, weight in weights.items():
        total = pc.add(total, pc.multiply(digit_at(digits, position), weight))
    return total


def one(normaliser: Callable[..., Normalised], value: Any, **kwargs: Any) -> NormalisedValue:
    """Normalise a single Python value through the array path."""
    result = normaliser(pa.array([value]), **kwargs)
    return NormalisedValue(result.values[0].as_py(), result.reasons[0].as_py())
