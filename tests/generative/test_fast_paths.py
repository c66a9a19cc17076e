"""The fast paths of the normalisers and generalisers give exactly what they gave before.

Each property runs the current function and its earlier form (``normalise_before``, kept verbatim)
on the same generated list and compares every value and every reason. The lists mix the shapes
the fast paths take (canonical PNC IDs, fixed-width dates, spaced postcodes) with the shapes they
hand to the general path (other separators, one-digit days, two-digit years, tabs and Unicode
spaces, other scripts, junk), so both paths and the merging of their results are exercised.
The example database is off and hypothesis's caches go to a temporary directory (as in
``test_normalise_properties``).
"""

from __future__ import annotations

import atexit
import shutil
import string
import tempfile
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from hub.privacy import generalise
from hub.privacy import normalise as nz
from hub.privacy.checksums import pnc_check_letter
from hub.privacy.normalise._arrow import first_reason
from hub.privacy.normalise.dates import DATE_FORMATS
from tests.generative import normalise_before as before

_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-fast-paths-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
REFERENCE = date(2025, 6, 30)

# Characters that stress the whitespace, case and Unicode handling: ASCII and Unicode spaces,
# tabs and line breaks, a vertical tab (not whitespace to RE2), full-width digits and letters.
SPACES = [" ", "\t", "\n", "\r", "\f", "\v", "\u00a0", "\u2003", "\u3000", "\u2028"]
ODD = ["/", "-", ".", "'", "é", "ß", "\uff11", "\uff21", "Ⅻ", "0", "9", "Z", "z"]
noise = st.text(alphabet=st.sampled_from(SPACES + ODD), max_size=3)


def spaced(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``core`` with noise before, after or inside it, sometimes in lower case."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        text = draw(core)
        if draw(st.booleans()):
            text = text.lower()
        if draw(st.booleans()) and text:
            cut = draw(st.integers(0, len(text)))
            text = text[:cut] + draw(st.sampled_from(SPACES)) + text[cut:]
        if draw(st.booleans()):
            text = draw(noise) + text + draw(noise)
        return text

    return build()


def values(core: st.SearchStrategy[str]) -> st.SearchStrategy[list[str | None]]:
    """Lists of core shapes (plain and disturbed), arbitrary text and nulls."""
    one = st.one_of(core, core, spaced(core), st.text(max_size=12), st.none())
    return st.lists(one, max_size=40)


def assert_same(got: Any, want: Any) -> None:
    assert got.values.to_pylist() == want.values.to_pylist()
    assert got.reasons.to_pylist() == want.reasons.to_pylist()
    assert got.values.type == want.values.type == pa.string()


# --- postcode ------------------------------------------------------------------------------------

_LETTER = st.sampled_from(string.ascii_uppercase)
_DIGIT = st.sampled_from(string.digits)
postcode_like = st.builds(
    lambda a, b, c, d, e, f, g, h, gap: f"{a}{b}{c}{d}{gap}{e}{f}{g}"[: 8 if h else 7],
    _LETTER,
    st.one_of(_LETTER, _DIGIT),
    _DIGIT,
    st.one_of(_LETTER, _DIGIT, st.just("")),
    _DIGIT,
    _LETTER,
    _LETTER,
    st.booleans(),
    st.sampled_from(["", " ", "  "]),
) | st.sampled_from(["GIR 0AA", "GIR0AA", "gir 0aa", "SW1A 1AA", "M1 1AE", "QA1 1AA"])


@PROPERTY
@given(rows=values(postcode_like))
def test_postcode_is_unchanged(rows: list[str | None]) -> None:
    array = pa.array(rows, pa.string())
    assert_same(nz.postcode(array), before.postcode(array))


# --- PNC ID --------------------------------------------------------------------------------------


@st.composite
def pnc_like(draw: st.DrawFn) -> str:
    yy = draw(st.integers(0, 99))
    serial = draw(st.integers(0, 9_999_999))
    letter = pnc_check_letter(f"{yy:02d}", str(serial))
    if draw(st.integers(0, 4)) == 0:  # a wrong check letter
        letter = draw(_LETTER)
    century = draw(st.sampled_from(["19", "20", "18", ""]))
    shape = draw(st.integers(0, 3))
    if shape == 0:  # canonical
        return f"{century}{yy:02d}/{serial:07d}{letter}"
    if shape == 1:  # short serial after a slash
        return f"{century}{yy:02d}/{serial}{letter}"
    if shape == 2:  # no slash
        return f"{century}{yy:02d}{serial:07d}{letter}"
    return f"{yy:02d}/{serial:0{draw(st.integers(1, 8))}d}{letter}{draw(_DIGIT)}"


@PROPERTY
@given(rows=values(pnc_like()), pivot=st.integers(0, 99))
def test_pnc_id_is_unchanged(rows: list[str | None], pivot: int) -> None:
    array = pa.array(rows, pa.string())
    assert_same(nz.pnc_id(array, pivot=pivot), before.pnc_id(array, pivot=pivot))


# --- date of birth -------------------------------------------------------------------------------


@st.composite
def date_like(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1850, 1, 1), max_value=date(2030, 12, 31)))
    y, m, d = f"{day.year:04d}", str(day.month), str(day.day)
    if draw(st.booleans()):
        m, d = m.zfill(2), d.zfill(2)
    if draw(st.integers(0, 6)) == 0:  # impossible days and months
        d = draw(st.sampled_from(["0", "00", "29", "30", "31", "32", "99"]))
        m = draw(st.sampled_from(["0", "00", "2", "02", "13", "4"]))
    sep = draw(st.sampled_from(["/", "-", ".", "", " "]))
    shape = draw(st.integers(0, 5))
    if shape == 0:
        text = f"{y}{sep}{m}{sep}{d}"
    elif shape == 1:
        text = f"{d}{sep}{m}{sep}{y}"
    elif shape == 2:
        text = f"{d}{sep}{m}{sep}{y[2:]}"  # a two-digit year
    elif shape == 3:
        text = f"{m}{sep}{d}{sep}{y}"
    elif shape == 4:
        time = draw(st.sampled_from(["T00:00:00", " 00:00", "T00:00:00.000Z", "T00:00+01:00",
                                     "T12:00:00", " 00:00:01"]))  # fmt: skip
        text = f"{y}-{m}-{d}{time}"
    else:
        text = f"{y}{m.zfill(2)}{d.zfill(2)}"
    return text


formats = st.lists(st.sampled_from(sorted(DATE_FORMATS)), min_size=1, max_size=8, unique=True)


@PROPERTY
@given(rows=values(date_like()), names=st.one_of(st.just(nz.DEFAULT_DATE_FORMATS), formats))
def test_date_of_birth_is_unchanged(rows: list[str | None], names: tuple[str, ...]) -> None:
    array = pa.array(rows, pa.string())
    got = nz.date_of_birth(array, reference_date=REFERENCE, formats=names)
    want = before.date_of_birth(array, reference_date=REFERENCE, formats=names)
    assert_same(got, want)


@PROPERTY
@given(days=st.lists(st.one_of(st.dates(), st.none()), max_size=30))
def test_date_of_birth_of_dates_is_unchanged(days: list[date | None]) -> None:
    array = pa.array(days, pa.date32())
    got = nz.date_of_birth(array, reference_date=REFERENCE)
    assert_same(got, before.date_of_birth(array, reference_date=REFERENCE))


# --- generalisation ------------------------------------------------------------------------------

any_day = st.one_of(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), st.none())


def _later(day: date | None, shift: int) -> date | None:
    """About ``shift`` years after ``day``, give or take a day (so birthdays fall on the day,
    the day before and the day after)."""
    if day is None or not 1 < day.year < 9000:
        return day
    return day + timedelta(days=shift * 365 + shift // 4 + (shift % 3) - 1)


@PROPERTY
@given(pairs=st.lists(st.tuples(any_day, any_day), max_size=40), shift=st.integers(0, 400))
def test_age_at_is_unchanged(pairs: list[tuple[date | None, date | None]], shift: int) -> None:
    # Pairs near each other too, so birthdays on the day, the day before and after are common.
    near = [(b, _later(b, shift)) for b, _ in pairs]
    for rows in (pairs, near):
        born = pa.array([b for b, _ in rows], pa.date32())
        at = pa.array([a for _, a in rows], pa.date32())
        want = before.age_at(born, at)
        assert generalise.age_at(born, at).to_pylist() == want.to_pylist()
        assert generalise.age_at(born.cast(pa.string()), at).to_pylist() == want.to_pylist()


bands = st.lists(
    st.tuples(st.integers(-5, 120), st.one_of(st.integers(-5, 130), st.none())), max_size=6
)


@PROPERTY
@given(ages=st.lists(st.one_of(st.integers(-10, 150), st.none()), max_size=50), table=bands)
def test_age_band_is_unchanged(ages: list[int | None], table: list[tuple[int, int | None]]) -> None:
    array = pa.array(ages, pa.int64())
    for chosen in (table, generalise.DEFAULT_AGE_BANDS):
        got = generalise.age_band(array, chosen)
        assert got.to_pylist() == before.age_band(array, chosen).to_pylist()
        assert got.type == pa.string()


masks = st.lists(st.one_of(st.booleans(), st.none()), min_size=12, max_size=12)


@PROPERTY
@given(rules=st.lists(masks, max_size=5))
def test_first_reason_is_unchanged(rules: list[list[bool | None]]) -> None:
    pairs = [(pa.array(mask, pa.bool_()), f"rule{i}") for i, mask in enumerate(rules)]
    got = first_reason(12, pairs)
    assert got.to_pylist() == before.first_reason(12, pairs).to_pylist()
    assert got.type == pa.string()


def test_chunked_and_sliced_inputs_take_the_same_paths() -> None:
    rows = ["1998/0123456G", "98/123456g", None, "2001/0000001Z", " 1998 / 0123456G "] * 5
    chunked = pa.chunked_array([pa.array(rows[:7]), pa.array(rows[7:])])
    sliced = pa.array(["x", *rows]).slice(1)
    want = before.pnc_id(pa.array(rows), pivot=25)
    for arr in (chunked, sliced):
        assert_same(nz.pnc_id(arr, pivot=25), want)
    dates = pa.array(["01/05/1990", "1/5/1990", "1990-05-01", None, "010590"] * 3).slice(2)
    got = nz.date_of_birth(dates, reference_date=REFERENCE)
    assert_same(got, before.date_of_birth(dates, reference_date=REFERENCE))
    assert pc.count(got.values).as_py() == 7
