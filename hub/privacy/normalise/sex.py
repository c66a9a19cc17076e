"""Sex / stated gender codes from health, police and education systems, to ``M``, ``F`` or ``I``.

NHS Data Dictionary PERSON STATED GENDER CODE: ``1`` male, ``2`` female, ``9`` indeterminate
(unable to be classified as either), ``X`` (and the older ``0``) not known. Police and common
codes: ``M``/``MALE``, ``F``/``FEMALE``, ``I``/``INDETERMINATE``, and ``U``, ``UNKNOWN``,
``NOT KNOWN``, ``NK``, ``NOT STATED``, ``NS``, ``NOT SPECIFIED`` for not known. Not-known codes
carry no information, so they normalise to null with reason ``missing``, exactly as an empty cell
does. Any other value (including ``O``/``OTHER``, whose meaning differs between systems) is
``unknown_code``.

>>> sex(pa.array(["1", "f", " Male ", "9", "X", "Q", None])).values.to_pylist()
['M', 'F', 'M', 'I', None, None, None]
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.normalise._arrow import (
    ArrayLike,
    as_text,
    finish,
    first_reason,
    is_blank,
    one,
    unicode_normalise,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

SEX_REASONS = frozenset({MISSING, "unknown_code"})

# Code (upper case, whitespace collapsed) -> canonical value; None means "not known".
SEX_CODES: Mapping[str, str | None] = MappingProxyType(
    {
        "1": "M",
        "M": "M",
        "MALE": "M",
        "2": "F",
        "F": "F",
        "FEMALE": "F",
        "9": "I",
        "I": "I",
        "INDETERMINATE": "I",
        "0": None,
        "X": None,
        "U": None,
        "UNKNOWN": None,
        "NOT KNOWN": None,
        "NK": None,
        "NOT STATED": None,
        "NS": None,
        "NOT SPECIFIED": None,
    }
)
_CODES = pa.array(list(SEX_CODES), pa.string())
_CANONICAL = pa.array(list(SEX_CODES.values()), pa.string())
_NOT_KNOWN = pa.array([code for code, value in SEX_CODES.items() if value is None], pa.string())


def sex(arr: ArrayLike) -> Normalised:
    """Normalise sex / stated gender codes to ``M``, ``F`` or ``I`` (indeterminate).

    Reasons: ``missing`` (null, blank or a not-known code), ``unknown_code`` (anything else).
    """
    text = unicode_normalise(as_text(arr))
    blank = is_blank(text)
    code = pc.replace_substring_regex(
        pc.utf8_trim_whitespace(pc.utf8_upper(text)), pattern=r"[\s\p{Z}]+", replacement=" "
    )
    index = pc.index_in(code, value_set=_CODES)
    not_known = pc.is_in(code, value_set=_NOT_KNOWN)
    reasons = first_reason(
        len(text),
        [(blank, MISSING), (not_known, MISSING), (pc.is_null(index), "unknown_code")],
    )
    return finish(pc.take(_CANONICAL, index), reasons)


def sex_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`sex`.

    >>> sex_one(2)
    NormalisedValue(value='F', reason=None)
    """
    return one(sex, value)
