"""Properties of the identifier normalisers, checked with hypothesis.

Each example normalises a whole list at once (the normalisers are array functions), which keeps the
suite fast. The example database is off, and hypothesis's other caches (Unicode tables, constants)
go to a temporary directory removed at exit, so nothing is written to the working tree.
"""

from __future__ import annotations

import atexit
import shutil
import string
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from hub.privacy import normalise as nz
from hub.privacy.checksums import (
    UPN_LETTERS,
    nhs_check_digit,
    pnc_check_letter,
    upn_check_letter,
)
from hub.privacy.normalise import Normalised

# Hypothesis's pytest plugin writes its constants cache right after collection, before any fixture
# runs, so the redirection happens at import; the directory goes when the test process exits.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-normalise-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

REFERENCE = date(2025, 6, 30)
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# For the tests that run every normaliser on every example.
BROAD = settings(PROPERTY, max_examples=100)

NORMALISERS: dict[str, Callable[[pa.Array], Normalised]] = {
    "nhs_number": nz.nhs_number,
    "upn": nz.upn,
    "pnc_id": lambda arr: nz.pnc_id(arr, pivot=25),
    "person_name": nz.person_name,
    "forename": lambda arr: nz.forename(arr, nicknames=nz.default_nicknames()),
    "surname": nz.surname,
    "name_initial": nz.name_initial,
    "date_of_birth": lambda arr: nz.date_of_birth(arr, reference_date=REFERENCE),
    "postcode": nz.postcode,
    "postcode_district": nz.postcode_district,
    "sex": nz.sex,
}
# postcode_district generalises (SW1A 1AA -> SW1A): its output is not a postcode, by design.
IDEMPOTENT = sorted(set(NORMALISERS) - {"postcode_district"})
# surname is person_name without nicknames, name_initial its first letter: on arbitrary Unicode (the
# slow path) their idempotence follows from person_name's; it is checked on valid input only.
DERIVED = {"surname", "name_initial"}
REASON_ALPHABET = set(string.ascii_lowercase + "_")


def run(name: str, values: list[Any]) -> Normalised:
    return NORMALISERS[name](pa.array(values, pa.string()))


def assert_all_equal(results: list[Normalised]) -> None:
    first = results[0]
    for other in results[1:]:
        assert other.values.to_pylist() == first.values.to_pylist()
        assert other.reasons.to_pylist() == first.reasons.to_pylist()


# --- generators of valid identifiers, built with hub.privacy.checksums -------------------------


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    nine = f"{draw(st.integers(0, 999_999_999)):09d}"
    check = nhs_check_digit(nine)
    assume(check is not None)
    number = f"{nine}{check}"
    assume(len(set(number)) > 1 and not number.startswith("999"))
    return number


@st.composite
def upns(draw: st.DrawFn) -> str:
    digits = draw(st.text(string.digits, min_size=11, max_size=11))
    last = draw(st.sampled_from(string.digits + UPN_LETTERS))
    body = digits + last
    return upn_check_letter(body) + body


@st.composite
def pnc_parts(draw: st.DrawFn) -> tuple[int, str, str, str]:
    """(pivot, two-digit year, serial without padding, canonical form)."""
    pivot = draw(st.integers(0, 99))
    yy = f"{draw(st.integers(0, 99)):02d}"
    serial = str(draw(st.integers(0, 9_999_999)))
    century = "19" if int(yy) > pivot else "20"
    canonical = f"{century}{yy}/{serial.zfill(7)}{pnc_check_letter(yy, serial)}"
    return pivot, yy, serial, canonical


_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}"
_A1, _A2 = "[A-PR-UWYZ]", "[A-HK-Y]"
_POSTCODE = (
    f"(?:{_A1}[0-9]{{1,2}}|{_A1}{_A2}[0-9]{{1,2}}|{_A1}[0-9][ABCDEFGHJKPSTUW]"
    f"|{_A1}{_A2}[0-9][ABEHMNPRVWXY]) {_INWARD}"
)
postcodes = st.from_regex(_POSTCODE, fullmatch=True)
dates_of_birth = st.dates(min_value=date(1900, 1, 1), max_value=REFERENCE)
name_tokens = st.text(string.ascii_uppercase, min_size=1, max_size=8)
names = st.lists(name_tokens, min_size=1, max_size=4)
sex_codes = st.sampled_from(list(nz.SEX_CODES))
known_sex_codes = st.sampled_from([code for code, value in nz.SEX_CODES.items() if value])


# --- idempotence --------------------------------------------------------------------------------

VALID_INPUTS: dict[str, st.SearchStrategy[str]] = {
    "nhs_number": nhs_numbers(),
    "upn": upns(),
    "pnc_id": pnc_parts().map(lambda p: p[3]),
    "person_name": names.map(" ".join),
    "forename": names.map(" ".join),
    "surname": names.map(" ".join),
    "name_initial": names.map(" ".join),
    "date_of_birth": dates_of_birth.map(date.isoformat),
    "postcode": postcodes,
    "postcode_district": postcodes,
    "sex": known_sex_codes,
}


def valid_inputs(name: str) -> st.SearchStrategy[list[str | None]]:
    """Valid values (with whitespace around some) and nulls, in one list."""
    padded = VALID_INPUTS[name].map(lambda v: f" {v}\t")
    return st.lists(st.one_of(VALID_INPUTS[name], padded, st.none()), max_size=8)


def check_idempotent(name: str, once: Normalised) -> None:
    """Normalising the canonical values again gives them back, valid, wherever they were valid."""
    twice = NORMALISERS[name](once.values)
    valid = [reason is None for reason in once.reasons.to_pylist()]
    again = [v for v, ok in zip(twice.values.to_pylist(), valid, strict=True) if ok]
    assert again == [v for v, ok in zip(once.values.to_pylist(), valid, strict=True) if ok]
    assert all(r is None for r, ok in zip(twice.reasons.to_pylist(), valid, strict=True) if ok)


def check_reasons(name: str, result: Normalised, size: int) -> None:
    """Reasons come from the documented set of fixed codes; values exactly where no reason."""
    reasons = result.reasons.to_pylist()
    assert len(reasons) == len(result.values) == size
    assert set(reasons) - {None} <= nz.REASONS[name]
    # A reason is a fixed lower-case code: it can carry nothing of the value it describes.
    assert all(set(r) <= REASON_ALPHABET for r in reasons if r is not None)
    assert [v is None for v in result.values.to_pylist()] == [r is not None for r in reasons]
    assert sum(result.counts().values()) == size - reasons.count(None)


@pytest.mark.parametrize("name", IDEMPOTENT)
@settings(PROPERTY, max_examples=50)
@given(data=st.data())
def test_idempotent_on_valid_input(name: str, data: st.DataObject) -> None:
    values = data.draw(valid_inputs(name))
    once = run(name, values)
    check_reasons(name, once, len(values))
    assert once.reasons.to_pylist() == [None if v is not None else "missing" for v in values]
    check_idempotent(name, once)


# --- formatting variants agree ------------------------------------------------------------------


@PROPERTY
@given(number=nhs_numbers())
def test_nhs_number_variants_agree(number: str) -> None:
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    variants = [
        number,
        spaced,
        spaced.replace(" ", "-"),
        spaced.replace(" ", "."),
        f" {number} ",
        f"\t{spaced}\n",
    ]
    result = run("nhs_number", variants)
    assert result.values.to_pylist() == [number] * len(variants)
    from_int = nz.nhs_number(pa.array([int(number)], pa.int64()))
    assert from_int.values.to_pylist() == [number]


@PROPERTY
@given(code=upns(), data=st.data())
def test_upn_variants_agree(code: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, 12))
    variants = [code, code.lower(), f" {code[:cut]} {code[cut:]} ", code[:4] + "\u00a0" + code[4:]]
    assert run("upn", variants).values.to_pylist() == [code] * len(variants)


@PROPERTY
@given(parts=pnc_parts())
def test_pnc_variants_agree(parts: tuple[int, str, str, str]) -> None:
    pivot, yy, serial, canonical = parts
    year, padded, check = canonical[:4], canonical[5:12], canonical[-1]
    variants = [
        canonical,
        canonical.lower(),
        f"{yy}/{serial}{check}",
        f"{yy}/{padded}{check}",
        f"{year}/{serial}{check}",
        f"{yy}{padded}{check}",
        f"{year}{padded}{check}".lower(),
        f" {yy} / {serial} {check} ",
    ]
    result = nz.pnc_id(pa.array(variants), pivot=pivot)
    assert result.values.to_pylist() == [canonical] * len(variants)


def _mixed_case(text: str, flips: list[bool]) -> str:
    return "".join(c.lower() if flip else c for c, flip in zip(text, flips, strict=False))


def _accented(text: str) -> str:
    """Each vowel followed by a combining acute accent (decomposed form)."""
    return "".join(c + "\u0301" if c in "AEIOUaeiou" else c for c in text)


def _apostrophes(tokens: list[str], mark: str) -> str:
    return " ".join(t[0] + mark + t[1:] if len(t) > 1 else t for t in tokens)


@PROPERTY
@given(tokens=names, flips=st.lists(st.booleans(), min_size=40, max_size=40))
def test_name_variants_agree(tokens: list[str], flips: list[bool]) -> None:
    plain = " ".join(tokens)
    variants = [
        plain,
        plain.lower(),
        plain.title(),
        _mixed_case(plain, flips),
        "  " + "\t ".join(tokens) + " \n",
        "-".join(tokens),
        _accented(plain),
        unicodedata.normalize("NFC", _accented(plain.lower())),
        _apostrophes(tokens, "'"),
        _apostrophes(tokens, "\u2019"),
    ]
    # surname is person_name, and name_initial its first letter: the two below cover all four.
    for name in ("person_name", "forename"):
        result = run(name, variants)
        assert result.reasons.to_pylist() == [None] * len(variants)
        assert len(set(result.values.to_pylist())) == 1


@PROPERTY
@given(code=postcodes, data=st.data())
def test_postcode_variants_agree(code: str, data: st.DataObject) -> None:
    squashed = code.replace(" ", "")
    cut = data.draw(st.integers(1, len(squashed) - 1))
    variants = [
        code,
        code.lower(),
        squashed,
        squashed.lower(),
        f"  {code.replace(' ', '   ')}\t",
        squashed[:cut] + " " + squashed[cut:],
    ]
    assert run("postcode", variants).values.to_pylist() == [code] * len(variants)
    outward = code.split(" ", maxsplit=1)[0]
    assert run("postcode_district", variants).values.to_pylist() == [outward] * len(variants)


@PROPERTY
@given(day=dates_of_birth)
def test_date_formats_agree(day: date) -> None:
    iso = day.isoformat()
    variants = [
        iso,
        f"{iso}T00:00:00",
        f"{iso} 00:00:00.000",
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d-%m-%Y"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%Y%m%d"),
        f"  {iso} ",
    ]
    result = run("date_of_birth", variants)
    assert result.values.to_pylist() == [iso] * len(variants)
    typed = nz.date_of_birth(pa.array([day], pa.date32()), reference_date=REFERENCE)
    assert typed.values.to_pylist() == [iso]


@PROPERTY
@given(code=sex_codes, flips=st.lists(st.booleans(), min_size=20, max_size=20))
def test_sex_variants_agree(code: str, flips: list[bool]) -> None:
    variants = [code, code.lower(), _mixed_case(code, flips), f" {code}\t", code.replace(" ", "  ")]
    assert_all_equal([run("sex", [v]) for v in variants])


# --- arbitrary input never raises and only yields documented reasons ----------------------------


@BROAD
@given(values=st.lists(st.one_of(st.text(), st.none()), max_size=16))
def test_arbitrary_text_never_raises_reasons_are_fixed_codes_and_values_idempotent(
    values: list[str | None],
) -> None:
    for name, normaliser in NORMALISERS.items():
        result = normaliser(pa.array(values, pa.string()))
        check_reasons(name, result, len(values))
        if name in IDEMPOTENT and name not in DERIVED:
            check_idempotent(name, result)


@BROAD
@given(values=st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.none()), max_size=16))
def test_integer_input_never_raises(values: list[int | None]) -> None:
    for name in ("nhs_number", "sex", "person_name", "date_of_birth", "postcode", "upn"):
        check_reasons(name, NORMALISERS[name](pa.array(values, pa.int64())), len(values))


# --- valid identifiers are accepted; corrupted NHS numbers are not -----------------------------


@BROAD
@given(
    nhs=st.lists(nhs_numbers(), max_size=5),
    upn_codes=st.lists(upns(), max_size=5),
    pnc=st.lists(pnc_parts().map(lambda p: p[3]), max_size=5),
    codes=st.lists(postcodes, max_size=5),
    days=st.lists(dates_of_birth.map(date.isoformat), max_size=5),
    people=st.lists(names.map(" ".join), max_size=5),
)
def test_valid_identifiers_are_accepted(
    nhs: list[str],
    upn_codes: list[str],
    pnc: list[str],
    codes: list[str],
    days: list[str],
    people: list[str],
) -> None:
    for name, values in [
        ("nhs_number", nhs),
        ("upn", upn_codes),
        ("pnc_id", pnc),
        ("postcode", codes),
        ("date_of_birth", days),
        ("person_name", people),
    ]:
        result = run(name, values)
        assert result.reasons.null_count == len(values)
        if name != "person_name":
            assert result.values.to_pylist() == values


@PROPERTY
@given(number=nhs_numbers(), position=st.integers(0, 9), shift=st.integers(1, 9))
def test_single_digit_corruption_of_nhs_number_is_rejected(
    number: str, position: int, shift: int
) -> None:
    corrupted = str((int(number[position]) + shift) % 10)
    changed = number[:position] + corrupted + number[position + 1 :]
    assert nz.nhs_number_one(number).reason is None
    assert nz.nhs_number_one(changed).reason in {"check_digit", "dummy"}


@PROPERTY
@given(code=upns(), position=st.integers(1, 11), shift=st.integers(1, 9))
def test_single_digit_corruption_of_upn_is_rejected(code: str, position: int, shift: int) -> None:
    corrupted = str((int(code[position]) + shift) % 10)
    changed = code[:position] + corrupted + code[position + 1 :]
    assert nz.upn_one(changed).reason == "check_letter"
