"""Person names: forename, surname, and their initial.

Steps, on whole arrays:

1. Apostrophes are removed (``O'BRIEN`` -> ``OBRIEN``, ``D'ARCY`` -> ``DARCY``), including the
   typographic ones (’ ‘ ʼ ` ´ and the full-width ').
2. Rows that are not plain ASCII are folded: compatibility decomposition (NFKD), combining marks
   dropped (``ZOË`` -> ``ZOE``), and the Latin letters that do not decompose spelt out
   (ß -> SS, Æ -> AE, Œ -> OE, Ø -> O, Ł -> L, Đ/Ð -> D, Þ -> TH). Letters of other scripts stay.
3. Upper case. Any digit makes the value ``format``.
4. Every run of characters that are not letters (hyphens, dots, commas, whitespace, symbols)
   becomes one space; leading and trailing spaces go.
5. Leading titles are stripped while another token follows: MR, MRS, MS, MISS, MX, DR.
6. Prefixes are joined to the token after them: MC, MAC, O, ST (``MC DONALD`` -> ``MCDONALD``,
   ``O BRIEN`` -> ``OBRIEN``, ``ST JOHN`` -> ``STJOHN``); SAINT followed by a token is spelt ST
   first. Other particles (DE, DA, DI, DU, LA, LE, VAN, VON) are deliberately left alone: LE, VAN,
   DA and DI are also Vietnamese, Chinese and Italian surnames or middle names, and DE is the start
   of DEL and DER, so joining them would not be idempotent. A lone O or ST *is* joined, so a middle
   initial O inside one field (``JOHN O SMITH``) becomes ``JOHN OSMITH``; forenames and surnames are
   normalised as separate fields, where that does not arise.
7. Optionally (``nicknames``), the first token is replaced by its formal name (BILL -> WILLIAM).

Reasons: ``missing`` (null, empty, whitespace), ``format`` (digits), ``no_letters`` (nothing left).

>>> names = pa.array(["  o'brien ", "Mc Donald", "Zoë  Smith-Jones", "Mr. St. John", "R2D2"])
>>> person_name(names).values.to_pylist()
['OBRIEN', 'MCDONALD', 'ZOE SMITH JONES', 'STJOHN', None]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.normalise._arrow import (
    ArrayLike,
    apply_where,
    as_text,
    finish,
    first_reason,
    is_blank,
    matches,
    non_ascii,
    one,
    remove,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

NAME_REASONS = frozenset({MISSING, "format", "no_letters"})

TITLES = ("MR", "MRS", "MS", "MISS", "MX", "DR")
PREFIXES = ("MC", "MAC", "O", "ST")

_APOSTROPHES = "['`\u00b4\u2018\u2019\u02bc\u02bb\u2032\uff07]"
_SPELT_OUT = {
    "\u1e9e": "SS",  # capital sharp s (what utf8_upper makes of ß)
    "\u00df": "SS",
    "\u00c6": "AE",
    "\u0152": "OE",
    "\u00d8": "O",
    "\u0141": "L",
    "\u0110": "D",
    "\u00d0": "D",
    "\u00de": "TH",
}
_TITLES = "^(?:(?:" + "|".join(TITLES) + ") )+"
_SAINT = r"\bSAINT "
_PREFIX = r"\b(" + "|".join(PREFIXES) + ") "


def _fold(text: pa.Array) -> pa.Array:
    """Upper-case, mark-free spelling of the rows that are not plain ASCII (steps 1-3)."""
    # Apostrophes go first: NFKD would turn an acute accent used as one into a space.
    text = remove(text, _APOSTROPHES)
    # One pass is enough: checked over every code point, upper-casing the result of NFKD without
    # marks never produces a character that decomposes again.
    text = pc.utf8_upper(remove(pc.utf8_normalize(text, form="NFKD"), r"\p{M}+"))
    text = apply_where(text, matches(text, "[" + "".join(_SPELT_OUT) + "]"), _spell_out)
    return remove(text, _APOSTROPHES)  # full-width apostrophes only appear after NFKD


def _spell_out(text: pa.Array) -> pa.Array:
    for letter, spelling in _SPELT_OUT.items():
        text = pc.replace_substring(text, pattern=letter, replacement=spelling)
    return text


def _separate(text: pa.Array, non_letters: str) -> pa.Array:
    """Step 4: runs of ``non_letters`` to one space, trimmed."""
    spaced = pc.replace_substring_regex(text, pattern=non_letters, replacement=" ")
    return pc.utf8_trim(spaced, characters=" ")


def _clean(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Steps 1-6: the normalised names and a mask of the rows that contain digits.

    Each rewrite runs only on the rows a cheap match selects (see ``apply_where``), and the Unicode
    character classes, which are slow to compile, only on rows that are still not ASCII after
    folding (other scripts, symbols): a plain ASCII extract never compiles them.
    """
    text = apply_where(text, matches(text, "['`]"), lambda rows: remove(rows, "['`]"))
    text = pc.ascii_upper(text)
    text = apply_where(text, non_ascii(text), _fold)
    other = non_ascii(text)
    has_digit = matches(text, "[0-9]")
    if pc.any(other).as_py():
        has_digit = pc.replace_with_mask(has_digit, other, matches(pc.filter(text, other), r"\pN"))
    text = apply_where(
        text,
        pc.and_(pc.invert(other), matches(text, "[^A-Z ]|  |^ | $")),
        lambda rows: _separate(rows, "[^A-Z0-9]+"),
    )
    text = apply_where(text, other, lambda rows: _separate(rows, r"[^\pL\pN]+"))
    text = apply_where(text, matches(text, _TITLES), lambda rows: remove(rows, _TITLES))
    text = apply_where(
        text,
        pc.fill_null(pc.match_substring(text, "SAINT "), False),
        lambda rows: pc.replace_substring_regex(rows, pattern=_SAINT, replacement="ST "),
    )
    text = apply_where(
        text,
        matches(text, _PREFIX),
        lambda rows: pc.replace_substring_regex(rows, pattern=_PREFIX, replacement=r"\1"),
    )
    return text, has_digit


@lru_cache(maxsize=8)
def _nickname_lookup(entries: tuple[tuple[str, str], ...]) -> tuple[pa.Array, pa.Array, str]:
    """Normalised nickname keys and their formal names, with chains (A -> B -> C) resolved.

    Raises ``ValueError`` for a table that would make normalisation non-idempotent: a key or formal
    name that is not one plain word, a formal name that is a title or prefix, conflicting entries or
    a cycle. Messages give entry numbers only.
    """
    keys, _ = _clean(pa.array([key for key, _ in entries], pa.string()))
    formals, _ = _clean(pa.array([formal for _, formal in entries], pa.string()))
    table: dict[str, str] = {}
    forbidden = {*TITLES, *PREFIXES, "SAINT"}
    pairs = zip(keys.to_pylist(), formals.to_pylist(), strict=True)
    for number, (key, formal) in enumerate(pairs, start=1):
        for word in (key, formal):
            if not word or not word.isalpha() or " " in word:
                raise ValueError(f"nickname table entry {number} is not one word of letters")
        if formal in forbidden:
            raise ValueError(f"nickname table entry {number} maps to a title or prefix")
        if table.get(key, formal) != formal:
            raise ValueError(f"nickname table entry {number} conflicts with an earlier entry")
        table[key] = formal
    resolved: dict[str, str] = {}
    for number, key in enumerate(table, start=1):
        formal, seen = table[key], {key}
        while formal in table and table[formal] != formal:
            if formal in seen:
                raise ValueError(f"nickname table entry {number} is part of a cycle")
            seen.add(formal)
            formal = table[formal]
        if formal != key:
            resolved[key] = formal
    # Keys are validated as single words of letters, so they need no regex escaping.
    starts_with_key = "^(?:" + "|".join(resolved) + ")(?: |$)"
    return (
        pa.array(list(resolved), pa.string()),
        pa.array(list(resolved.values()), pa.string()),
        starts_with_key,
    )


def _apply_nicknames(names: pa.Array, nicknames: Mapping[str, str]) -> pa.Array:
    keys, formals, starts_with_key = _nickname_lookup(tuple(nicknames.items()))
    if len(keys) == 0:
        return names

    def replace_first(rows: pa.Array) -> pa.Array:
        parts = pc.extract_regex(rows, pattern=r"^(?P<first>[^ ]*)(?P<rest>.*)$")
        first = pc.struct_field(parts, "first")
        formal = pc.take(formals, pc.index_in(first, value_set=keys))
        return pc.binary_join_element_wise(
            pc.coalesce(formal, first), pc.struct_field(parts, "rest"), ""
        )

    return apply_where(names, matches(names, starts_with_key), replace_first)


def person_name(arr: ArrayLike, *, nicknames: Mapping[str, str] | None = None) -> Normalised:
    """Normalise person names (see the module documentation for every step).

    ``nicknames`` maps a nickname to its formal name and is applied to the first token only.
    """
    text = as_text(arr)
    blank = is_blank(text)
    names, has_digit = _clean(text)
    if nicknames:
        names = _apply_nicknames(names, nicknames)
    reasons = first_reason(
        len(text),
        [
            (blank, MISSING),
            (has_digit, "format"),
            (pc.equal(pc.binary_length(names), 0), "no_letters"),
        ],
    )
    return finish(names, reasons)


def forename(arr: ArrayLike, *, nicknames: Mapping[str, str] | None = None) -> Normalised:
    """Normalise forenames; ``nicknames`` (e.g. :func:`default_nicknames`) maps the first one.

    >>> forename(pa.array(["bill", "Billy-Joe"]), nicknames=default_nicknames()).values.to_pylist()
    ['WILLIAM', 'WILLIAM JOE']
    """
    return person_name(arr, nicknames=nicknames)


def surname(arr: ArrayLike) -> Normalised:
    """Normalise surnames (no nickname table).

    >>> surname(pa.array(["MacDonald", "Mac Donald", "O Brien"])).values.to_pylist()
    ['MACDONALD', 'MACDONALD', 'OBRIEN']
    """
    return person_name(arr)


def name_initial(arr: ArrayLike, *, nicknames: Mapping[str, str] | None = None) -> Normalised:
    """First letter of the normalised name (after nicknames, when given); reasons as names.

    >>> initials = name_initial(pa.array(["émile", "  ", "Bob"]), nicknames=default_nicknames())
    >>> initials.values.to_pylist()
    ['E', None, 'R']
    """
    full = person_name(arr, nicknames=nicknames)
    return finish(pc.utf8_slice_codeunits(full.values, start=0, stop=1), full.reasons)


@lru_cache(maxsize=1)
def default_nicknames() -> Mapping[str, str]:
    """The shipped nickname table (``nicknames.csv``): common English diminutives.

    Only diminutives of one formal name in one usual spelling are listed; names that are given
    names in their own right in England and Wales (JACK, HARRY, CHARLIE, ALFIE, JAMIE ...) and
    nicknames of several names (ALEX, SAM, CHRIS, JO, PAT ...) are left out, because mapping them
    would link people who are different.
    """
    source = resources.files(__package__).joinpath("nicknames.csv")
    rows = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    return MappingProxyType({row["nickname"]: row["formal"] for row in rows})


def person_name_one(value: Any, *, nicknames: Mapping[str, str] | None = None) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`person_name`.

    >>> person_name_one("Dr Seán O'Sullivan-McCarthy")
    NormalisedValue(value='SEAN OSULLIVAN MCCARTHY', reason=None)
    """
    return one(person_name, value, nicknames=nicknames)


def forename_one(value: Any, *, nicknames: Mapping[str, str] | None = None) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`forename`."""
    return one(forename, value, nicknames=nicknames)


def surname_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`surname`."""
    return one(surname, value)


def name_initial_one(value: Any, *, nicknames: Mapping[str, str] | None = None) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`name_initial`."""
    return one(name_initial, value, nicknames=nicknames)
