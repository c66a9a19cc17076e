"""UK postcode: outward code, one space, inward code (``SW1A 1AA``).

Case and whitespace do not matter. The outward code has one of the shapes A9, A99, AA9, AA99,
A9A, AA9A with the Royal Mail letter rules (first letter not Q, V, X; second not I, J, Z; a
third-position letter from ABCDEFGHJKPSTUW; a fourth-position letter from ABEHMNPRVWXY). The inward
code is a digit and two letters other than C, I, K, M, O, V. ``GIR 0AA`` is the one historical
exception accepted.

>>> import pyarrow as pa
>>> postcode(pa.array(["sw1a1aa", " M1  1AE ", "SW1A 1AI", "QA1 1AA", "SW1"])).reasons.to_pylist()
[None, None, 'invalid_inward', 'invalid_outward', 'format']
>>> postcode_district(pa.array(["sw1a 1aa"])).values.to_pylist()
['SW1A']
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc

from hub.privacy.normalise._arrow import (
    ArrayLike,
    as_text,
    compact,
    finish,
    first_reason,
    is_blank,
    matches,
    one,
    unicode_normalise,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

POSTCODE_REASONS = frozenset({MISSING, "format", "invalid_outward", "invalid_inward"})

_SHAPE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
_FIRST = "[A-PR-UWYZ]"
_SECOND = "[A-HK-Y]"
_OUTWARD_CODE = (
    "^(?:"
    f"{_FIRST}[0-9]{{1,2}}"  # A9, A99
    f"|{_FIRST}{_SECOND}[0-9]{{1,2}}"  # AA9, AA99
    f"|{_FIRST}[0-9][ABCDEFGHJKPSTUW]"  # A9A
    f"|{_FIRST}{_SECOND}[0-9][ABEHMNPRVWXY]"  # AA9A
    ")"
)
_INWARD_LETTERS = "[ABD-HJLNP-UW-Z]"
_OUTWARD = _OUTWARD_CODE + "[0-9][A-Z]{2}$"
_INWARD = f"[0-9]{_INWARD_LETTERS}{{2}}$"
# Both rules at once: a valid outward code, then a valid inward code. Every code that matches it
# has the postcode shape too, so it alone tells the valid rows from those that need a reason.
_VALID = _OUTWARD_CODE + f"[0-9]{_INWARD_LETTERS}{{2}}$"
_GIRO = "GIR0AA"


def postcode(arr: ArrayLike) -> Normalised:
    """Normalise UK postcodes to ``OUTWARD INWARD``.

    Reasons, first match wins: ``missing``, ``format`` (not letters and digits in a postcode
    shape), ``invalid_outward`` (postcode shape, but the outward code breaks the letter rules),
    ``invalid_inward`` (the inward letters include C, I, K, M, O or V).
    """
    text = unicode_normalise(as_text(arr))
    blank = is_blank(text)
    code = compact(text)
    valid = pc.or_(pc.fill_null(pc.equal(code, _GIRO), False), matches(code, _VALID))
    # Only the rows that are neither valid nor blank need to know which rule they break.
    broken = pc.and_(pc.invert(valid), pc.invert(blank))
    reasons = first_reason(len(text), [(blank, MISSING)])
    if pc.any(broken).as_py():
        rows = pc.filter(code, broken)
        why = first_reason(
            len(rows),
            [
                (pc.invert(matches(rows, _SHAPE)), "format"),
                (pc.invert(matches(rows, _OUTWARD)), "invalid_outward"),
                (pc.invert(matches(rows, _INWARD)), "invalid_inward"),
            ],
        )
        reasons = pc.replace_with_mask(reasons, broken, why)
    canonical = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(code, start=0, stop=-3),
        pc.utf8_slice_codeunits(code, start=-3),
        " ",
    )
    return finish(canonical, reasons)


def postcode_district(arr: ArrayLike) -> Normalised:
    """The outward code (postcode district, ``SW1A``) of each postcode; reasons as ``postcode``."""
    full = postcode(arr)
    outward = pc.struct_field(pc.extract_regex(full.values, pattern=r"^(?P<out>\S+) "), "out")
    return finish(outward, full.reasons)


def postcode_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`postcode`.

    >>> postcode_one("gir0aa")
    NormalisedValue(value='GIR 0AA', reason=None)
    """
    return one(postcode, value)


def postcode_district_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`postcode_district`."""
    return one(postcode_district, value)
