"""Table-driven examples for the identifier normalisers in ``hub.privacy.normalise``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from hub.privacy import normalise as nz
from hub.privacy.normalise import Normalised

REFERENCE = date(2025, 6, 30)

# (input, canonical value or None, reason or None)
Case = tuple[Any, str | None, str | None]


def check(result: Normalised, cases: list[Case]) -> None:
    assert result.values.type == pa.string()
    assert result.reasons.type == pa.string()
    assert len(result.values) == len(result.reasons) == len(cases)
    got = list(zip(result.values.to_pylist(), result.reasons.to_pylist(), strict=True))
    assert got == [(value, reason) for _, value, reason in cases]


NHS_CASES: list[Case] = [
    ("9434765919", "9434765919", None),
    ("943 476 5919", "9434765919", None),
    ("943-476-5919", "9434765919", None),
    ("943.476.5919", "9434765919", None),
    (" 9434765919\t", "9434765919", None),
    ("943\u2013476\u20135919", "9434765919", None),  # en dashes
    ("\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19", "9434765919", None),
    ("4010232137", "4010232137", None),
    (None, None, "missing"),
    ("", None, "missing"),
    ("   ", None, "missing"),
    ("943476591X", None, "non_digit"),
    ("NHS 9434765919", None, "non_digit"),
    ("--", None, "wrong_length"),
    ("943476591", None, "wrong_length"),
    ("94347659190", None, "wrong_length"),
    ("0000000000", None, "dummy"),
    ("1111111111", None, "dummy"),
    ("9999999999", None, "dummy"),
    ("9990000018", None, "dummy"),
    ("999 123 4567", None, "dummy"),
    ("9434765918", None, "check_digit"),
    ("4000000080", None, "check_digit"),  # check digit would be 10
]


def test_nhs_number_table() -> None:
    check(nz.nhs_number(pa.array([c[0] for c in NHS_CASES], pa.string())), NHS_CASES)


def test_nhs_number_integer_input_is_left_padded() -> None:
    cases: list[Case] = [
        (9434765919, "9434765919", None),
        (None, None, "missing"),
        (-9434765919, None, "non_digit"),
        (5, None, "check_digit"),  # "0000000005"
        (0, None, "dummy"),
        (94347659190, None, "wrong_length"),
    ]
    for kind in (pa.int64(), pa.uint64()):
        values = [c[0] for c in cases]
        if kind == pa.uint64():
            values = [v for v in values if v is None or v >= 0]
            kept = [c for c in cases if c[0] is None or c[0] >= 0]
        else:
            kept = cases
        check(nz.nhs_number(pa.array(values, kind)), kept)


UPN_CASES: list[Case] = [
    ("B801200005001", "B801200005001", None),
    ("b801200005001", "B801200005001", None),
    (" P207 0000 16049 ", "P207000016049", None),
    ("M80120000500A", "M80120000500A", None),  # temporary UPN
    ("y20700001604z", "Y20700001604Z", None),
    (None, None, "missing"),
    (" ", None, "missing"),
    ("B80120000500", None, "wrong_length"),
    ("B8012000050011", None, "wrong_length"),
    ("I801200005001", None, "format"),  # I is never a check letter
    ("B80120000500I", None, "format"),
    ("BB01200005001", None, "format"),
    ("1801200005001", None, "format"),
    ("A801200005001", None, "check_letter"),
    ("B80120000500C", None, "check_letter"),
]


def test_upn_table() -> None:
    check(nz.upn(pa.array([c[0] for c in UPN_CASES])), UPN_CASES)


PNC_CASES: list[Case] = [
    ("98/123456G", "1998/0123456G", None),
    ("98/0123456g", "1998/0123456G", None),
    ("1998/123456G", "1998/0123456G", None),
    ("1998/0123456G", "1998/0123456G", None),
    ("980123456G", "1998/0123456G", None),
    ("19980123456G", "1998/0123456G", None),
    (" 98 / 123456 g ", "1998/0123456G", None),
    ("20/12345X", "2020/0012345X", None),
    ("2020/12345X", "2020/0012345X", None),
    ("05/1B", "2005/0000001B", None),
    ("99/9999999V", "1999/9999999V", None),
    ("00/1A", "2000/0000001A", None),
    (None, None, "missing"),
    ("", None, "missing"),
    ("98123456G", None, "format"),  # no slash needs a seven-digit serial
    ("98/12345678G", None, "format"),
    ("1850/1234567A", None, "format"),
    ("98/123456", None, "format"),
    ("ABC", None, "format"),
    ("98/123456H", None, "check_letter"),
]


def test_pnc_id_table() -> None:
    check(nz.pnc_id(pa.array([c[0] for c in PNC_CASES]), pivot=25), PNC_CASES)


def test_pnc_id_pivot() -> None:
    assert nz.pnc_id_one("20/12345X", pivot=19).value == "1920/0012345X"
    assert nz.pnc_id_one("20/12345X", pivot=20).value == "2020/0012345X"
    with pytest.raises(ValueError, match="pivot"):
        nz.pnc_id(pa.array(["20/12345X"]), pivot=100)


NAME_CASES: list[Case] = [
    ("Smith", "SMITH", None),
    ("  smith  ", "SMITH", None),
    ("O'Brien", "OBRIEN", None),
    ("O\u2019Brien", "OBRIEN", None),
    ("O\u00b4Brien", "OBRIEN", None),
    ("O Brien", "OBRIEN", None),
    ("o-brien", "OBRIEN", None),
    ("McDonald", "MCDONALD", None),
    ("Mc Donald", "MCDONALD", None),
    ("MacDonald", "MACDONALD", None),
    ("Mac Donald", "MACDONALD", None),
    ("St John", "STJOHN", None),
    ("St. John", "STJOHN", None),
    ("Saint John", "STJOHN", None),
    ("D'Arcy", "DARCY", None),
    ("Smith-Jones", "SMITH JONES", None),
    ("Smith  --  Jones", "SMITH JONES", None),
    ("Zo\u00eb", "ZOE", None),
    ("Zoe\u0308", "ZOE", None),  # decomposed diaeresis
    ("Se\u00e1n", "SEAN", None),
    ("Stra\u00dfe", "STRASSE", None),
    ("\u0141ukasz \u00d8ster", "LUKASZ OSTER", None),
    ("Mr John Smith", "JOHN SMITH", None),
    ("Mrs. Jane Smith", "JANE SMITH", None),
    ("Dr Mr Smith", "SMITH", None),
    ("Miss", "MISS", None),  # a title alone is kept: nothing follows it
    ("Van Der Berg", "VAN DER BERG", None),
    ("\u041e\u043b\u044c\u0433\u0430", "\u041e\u041b\u042c\u0413\u0410", None),
    (None, None, "missing"),
    ("", None, "missing"),
    (" \t ", None, "missing"),
    ("R2D2", None, "format"),
    ("John 3rd", None, "format"),
    ("---", None, "no_letters"),
    ("'", None, "no_letters"),
    ("\U0001f600", None, "no_letters"),
]


def test_person_name_table() -> None:
    check(nz.person_name(pa.array([c[0] for c in NAME_CASES])), NAME_CASES)
    check(nz.surname(pa.array([c[0] for c in NAME_CASES])), NAME_CASES)


def test_forename_nicknames_apply_to_first_token_only_when_asked() -> None:
    names = pa.array(["Bill", "bill smith", "Dr Bob", "Ann Bill", "Billy-Joe", "William", None])
    plain = nz.forename(names)
    assert plain.values.to_pylist() == [
        "BILL",
        "BILL SMITH",
        "BOB",
        "ANN BILL",
        "BILLY JOE",
        "WILLIAM",
        None,
    ]
    mapped = nz.forename(names, nicknames=nz.default_nicknames())
    assert mapped.values.to_pylist() == [
        "WILLIAM",
        "WILLIAM SMITH",
        "ROBERT",
        "ANN BILL",
        "WILLIAM JOE",
        "WILLIAM",
        None,
    ]
    assert mapped.reasons.to_pylist() == [None] * 6 + ["missing"]


def test_nickname_table_is_normalised_and_chains_resolved() -> None:
    table = {"bobby": "Bob", "Bob": "robert", "Zoë": "Zoella"}
    result = nz.forename(pa.array(["Bobby", "bob", "zoe"]), nicknames=table)
    assert result.values.to_pylist() == ["ROBERT", "ROBERT", "ZOELLA"]


@pytest.mark.parametrize(
    "table",
    [
        {"Bill Bob": "William"},
        {"B1ll": "William"},
        {"Bill": "Mr"},
        {"Bill": "William", "BILL": "Wilhelm"},
        {"Anna": "Hannah", "Hannah": "Anna"},
    ],
)
def test_bad_nickname_tables_are_refused_without_quoting_them(table: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="nickname table entry") as raised:
        nz.forename(pa.array(["x"]), nicknames=table)
    message = str(raised.value)
    for word in [*table, *table.values()]:
        assert word.upper() not in message.upper().replace("NICKNAME TABLE ENTRY", "")


def test_default_nicknames_shape() -> None:
    table = nz.default_nicknames()
    assert 70 <= len(table) <= 120
    assert table["BILL"] == "WILLIAM"
    assert all(key.isalpha() and key.isupper() for key in table)
    assert not set(table) & set(table.values())  # no chains: every formal name is final


def test_name_initial() -> None:
    result = nz.name_initial(pa.array(["\u00e9mile", "  ", "o'neil", "42"]))
    assert result.values.to_pylist() == ["E", None, "O", None]
    assert result.reasons.to_pylist() == [None, "missing", None, "format"]
    assert nz.name_initial_one("Bob", nicknames=nz.default_nicknames()).value == "R"


DOB_CASES: list[Case] = [
    ("1990-05-01", "1990-05-01", None),
    ("01/05/1990", "1990-05-01", None),  # day first: 1st of May
    ("1/5/1990", "1990-05-01", None),
    ("01-05-1990", "1990-05-01", None),
    ("01.05.1990", "1990-05-01", None),
    ("19900501", "1990-05-01", None),
    ("1990-05-01T00:00:00", "1990-05-01", None),
    ("1990-05-01 00:00:00.000", "1990-05-01", None),
    ("1990-05-01T00:00:00Z", "1990-05-01", None),
    ("1990-05-01T00:00+01:00", "1990-05-01", None),
    (" 2024-02-29 ", "2024-02-29", None),
    ("1900-01-01", "1900-01-01", None),
    ("2025-06-30", "2025-06-30", None),
    (None, None, "missing"),
    ("", None, "missing"),
    ("  ", None, "missing"),
    ("01/05/90", None, "ambiguous_year"),
    ("1-5-90", None, "ambiguous_year"),
    ("900501", None, "ambiguous_year"),
    ("1990-05-01T10:30:00", None, "format"),
    ("May 1st 1990", None, "format"),
    ("1990/05/01", None, "format"),  # not in the default formats
    ("2023-02-30", None, "impossible_date"),
    ("2023-02-29", None, "impossible_date"),
    ("31/04/2000", None, "impossible_date"),
    ("1990-13-01", None, "impossible_date"),
    ("00/01/1990", None, "impossible_date"),
    ("1899-12-31", None, "too_old"),
    ("2025-07-01", None, "future"),
]


def test_date_of_birth_table() -> None:
    dobs = pa.array([c[0] for c in DOB_CASES])
    check(nz.date_of_birth(dobs, reference_date=REFERENCE), DOB_CASES)


def test_date_of_birth_date_and_timestamp_inputs() -> None:
    dates = pa.array([date(1990, 5, 1), None, date(1899, 1, 1), date(2030, 1, 1)], pa.date32())
    expected = [("1990-05-01", None), (None, "missing"), (None, "too_old"), (None, "future")]
    for kind in (pa.date32(), pa.date64()):
        result = nz.date_of_birth(dates.cast(kind), reference_date=REFERENCE)
        assert list(zip(result.values.to_pylist(), result.reasons.to_pylist(), strict=True)) == (
            expected
        )
    stamps = pa.array(
        [datetime(1990, 5, 1), datetime(1990, 5, 1, 12, 30), None], pa.timestamp("us")
    )
    result = nz.date_of_birth(stamps, reference_date=REFERENCE)
    assert result.values.to_pylist() == ["1990-05-01", None, None]
    assert result.reasons.to_pylist() == [None, "format", "missing"]
    # Midnight in London during summer time is 23:00 UTC the day before: refused, not moved.
    utc = pa.array([datetime(1990, 4, 30, 23)], pa.timestamp("s", tz="UTC"))
    assert nz.date_of_birth(utc, reference_date=REFERENCE).reasons.to_pylist() == ["format"]
    london = utc.cast(pa.timestamp("s", tz="Europe/London"))
    assert nz.date_of_birth(london, reference_date=REFERENCE).values.to_pylist() == ["1990-05-01"]


def test_date_of_birth_formats_parameter() -> None:
    us = nz.date_of_birth(
        pa.array(["05/13/1990", "13/05/1990"]), reference_date=REFERENCE, formats=("%m/%d/%Y",)
    )
    assert us.values.to_pylist() == ["1990-05-13", None]
    assert us.reasons.to_pylist() == [None, "impossible_date"]
    with pytest.raises(ValueError, match="unsupported date formats"):
        nz.date_of_birth(pa.array(["x"]), reference_date=REFERENCE, formats=("%b %d %Y",))
    assert nz.date_of_birth_one(
        datetime(2025, 6, 30, 9), reference_date=datetime(2025, 6, 30, 10)
    ) == (None, "format")


POSTCODE_CASES: list[Case] = [
    ("SW1A 1AA", "SW1A 1AA", None),
    ("sw1a1aa", "SW1A 1AA", None),
    ("  sw1a   1aa ", "SW1A 1AA", None),
    ("M1 1AE", "M1 1AE", None),  # A9
    ("B33 8TH", "B33 8TH", None),  # A99
    ("CR2 6XH", "CR2 6XH", None),  # AA9
    ("DN55 1PT", "DN55 1PT", None),  # AA99
    ("W1A 0AX", "W1A 0AX", None),  # A9A
    ("EC1A 1BB", "EC1A 1BB", None),  # AA9A
    ("gir0aa", "GIR 0AA", None),
    (None, None, "missing"),
    ("", None, "missing"),
    ("SW1", None, "format"),
    ("SW1A 1A", None, "format"),
    ("12345", None, "format"),
    ("SW1A-1AA", None, "format"),
    ("QA1 1AA", None, "invalid_outward"),  # Q never first
    ("AI1 1AA", None, "invalid_outward"),  # I never second
    ("A1I 1AA", None, "invalid_outward"),
    ("SW1A 1AI", None, "invalid_inward"),
    ("SW1A 1CA", None, "invalid_inward"),
]


def test_postcode_table() -> None:
    check(nz.postcode(pa.array([c[0] for c in POSTCODE_CASES])), POSTCODE_CASES)


def test_postcode_district() -> None:
    result = nz.postcode_district(pa.array(["sw1a 1aa", "M1 1AE", "GIR 0AA", "QA1 1AA", None]))
    assert result.values.to_pylist() == ["SW1A", "M1", "GIR", None, None]
    assert result.reasons.to_pylist() == [None, None, None, "invalid_outward", "missing"]


SEX_CASES: list[Case] = [
    ("1", "M", None),
    ("2", "F", None),
    ("9", "I", None),
    ("M", "M", None),
    ("f", "F", None),
    (" Male ", "M", None),
    ("FEMALE", "F", None),
    ("I", "I", None),
    ("Indeterminate", "I", None),
    ("0", None, "missing"),
    ("X", None, "missing"),
    ("U", None, "missing"),
    ("Unknown", None, "missing"),
    ("not  known", None, "missing"),
    (None, None, "missing"),
    ("", None, "missing"),
    ("Q", None, "unknown_code"),
    ("3", None, "unknown_code"),
    ("Other", None, "unknown_code"),
]


def test_sex_table() -> None:
    check(nz.sex(pa.array([c[0] for c in SEX_CASES])), SEX_CASES)
    assert nz.sex(pa.array([1, 2, 9, 0, 7])).reasons.to_pylist() == [
        None,
        None,
        None,
        "missing",
        "unknown_code",
    ]


ALL_ARRAY_NORMALISERS = {
    "nhs_number": nz.nhs_number,
    "upn": nz.upn,
    "pnc_id": nz.pnc_id,
    "person_name": nz.person_name,
    "forename": nz.forename,
    "surname": nz.surname,
    "name_initial": nz.name_initial,
    "date_of_birth": lambda arr: nz.date_of_birth(arr, reference_date=REFERENCE),
    "postcode": nz.postcode,
    "postcode_district": nz.postcode_district,
    "sex": nz.sex,
}


@pytest.mark.parametrize("name", sorted(ALL_ARRAY_NORMALISERS))
@pytest.mark.parametrize(
    "array",
    [
        pa.array([], pa.string()),
        pa.array([], pa.null()),
        pa.nulls(3),
        pa.nulls(3, pa.string()),
        pa.array(["", " ", "\t\n"]),
    ],
    ids=["empty", "empty-null-type", "all-null-type", "all-null-string", "all-blank"],
)
def test_empty_and_missing_arrays(name: str, array: pa.Array) -> None:
    result = ALL_ARRAY_NORMALISERS[name](array)
    assert len(result) == len(array)
    assert result.values.null_count == len(array)
    assert result.reasons.to_pylist() == ["missing"] * len(array)
    assert result.counts() == ({"missing": len(array)} if len(array) else {})
    assert result.invalid_rows() == {}


@pytest.mark.parametrize("name", sorted(ALL_ARRAY_NORMALISERS))
def test_string_like_input_types_agree(name: str) -> None:
    samples = ["9434765919", "B801200005001", "98/123456G", "O'Brien", "1990-05-01", "sw1a1aa", "1"]
    fn = ALL_ARRAY_NORMALISERS[name]
    plain = fn(pa.array(samples, pa.string()))
    variants = [
        pa.array(samples, pa.large_string()),
        pa.array(samples, pa.string_view()),
        pa.array(samples).dictionary_encode(),
        pa.chunked_array([samples[:3], samples[3:]]),
    ]
    for variant in variants:
        other = fn(variant)
        assert other.values.equals(plain.values)
        assert other.reasons.equals(plain.reasons)


def test_unsupported_type_is_named_not_quoted() -> None:
    with pytest.raises(TypeError, match="double"):
        nz.nhs_number(pa.array([9434765919.0]))


def test_counts_and_invalid_rows_give_numbers_only() -> None:
    secret = ["9434765919", "9434765918", None, "ABC", "9434765918", "", "943476591"]
    result = nz.nhs_number(pa.array(secret))
    counts = result.counts()
    assert counts == {"check_digit": 2, "missing": 2, "non_digit": 1, "wrong_length": 1}
    rows = result.invalid_rows()
    assert rows == {"check_digit": [2, 5], "non_digit": [4], "wrong_length": [7]}
    assert result.invalid_rows(limit=1, offset=1001) == {
        "check_digit": [1002],
        "non_digit": [1004],
        "wrong_length": [1007],
    }
    assert result.invalid_rows(limit=0) == {"check_digit": [], "non_digit": [], "wrong_length": []}
    for key, value in [*counts.items(), *rows.items()]:
        assert key in nz.NHS_NUMBER_REASONS
        assert isinstance(value, int) or all(isinstance(i, int) for i in value)
    rendered = repr(counts) + repr(rows)
    assert not any(s and s in rendered for s in secret)
    assert result.valid.to_pylist() == [True, False, False, False, False, False, False]


def test_normalised_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        Normalised(values=pa.array(["a"]), reasons=pa.array([None, None], pa.string()))
    with pytest.raises(TypeError):
        Normalised(values=pa.array([1]), reasons=pa.array([None], pa.string()))


def test_scalar_wrappers() -> None:
    assert nz.nhs_number_one("943 476 5919") == ("9434765919", None)
    assert nz.nhs_number_one(None) == (None, "missing")
    assert nz.upn_one("b801200005001").value == "B801200005001"
    assert nz.pnc_id_one("98/123456G", pivot=25).value == "1998/0123456G"
    assert nz.person_name_one("Mc Donald").value == "MCDONALD"
    assert nz.forename_one("Bill", nicknames=nz.default_nicknames()).value == "WILLIAM"
    assert nz.surname_one("O'Brien").value == "OBRIEN"
    assert nz.date_of_birth_one("01/05/1990", reference_date=REFERENCE).value == "1990-05-01"
    assert nz.date_of_birth_one(date(1990, 5, 1), reference_date=REFERENCE).value == "1990-05-01"
    assert nz.postcode_one("sw1a1aa").value == "SW1A 1AA"
    assert nz.postcode_district_one("sw1a1aa").value == "SW1A"
    assert nz.sex_one(2).value == "F"


def test_reason_sets_are_documented() -> None:
    assert set(nz.REASONS) == set(ALL_ARRAY_NORMALISERS)
    assert all("missing" in codes for codes in nz.REASONS.values())
