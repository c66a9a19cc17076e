"""Identifier noise: how partner records of one person come to differ from each other.

Rates at ``noise=1.0``; every rate is multiplied by ``noise`` and capped at 1, and every record
draws independently (``noise=0`` gives clean, canonical identifiers, with nothing missing).

===========================  ======  ===============================================================
what                          rate    detail
===========================  ======  ===============================================================
name typo                     3%      per record, forename or surname: transposition, deletion,
                                      substitution or doubled letter
nickname                      4%      of records whose forename has a short form (William -> Bill)
case and whitespace           10%     per record: "smith", "SMITH", " Smith ", "Smith  "
apostrophe variant            30%     of records with an apostrophe name: O'Brien -> OBrien,
                                      O Brien, O’Brien
diacritics stripped           40%     of records with an accented name: Zoë -> Zoe
double-barrelled variant      30%     of records with a hyphenated surname: order, space, one half
date of birth error           2%      two digits transposed or day and month swapped
date of birth format          5%      another partner's date format
old postcode after a move     27%     of records of people who have moved (about 8% of all records)
postcode format               15%     "l40th", "L4  0TH", "L40TH", "l4 0th"
NHS number format             30%     of present numbers: "943 476 5919" or "943-476-5919"
NHS number mistyped           1%      one digit wrong, so the check digit fails
PNC ID format                 25%     "19/123456X", "2019/123456X", "2019/0123456x"
UPN format                    2%      lower case or a space after the check letter
sex not recorded              1%      police "U", ED "0" or "9", ambulance "Unknown"
duplicate police nominal      2%      police record under a second person_urn for the same person
ambulance age estimate        30%     the crew's estimate is 1-2 years out (5%: blank)
missing values                by feed police date of birth 2%, postcode 3%, PNC ID 10% of
                                      suspects and 60% of victims who have one; ED NHS number
                                      8%, date of birth 3%, postcode 3%, assault time 12%;
                                      ambulance names 15%, date of birth 50%, NHS number 55%;
                                      youth justice UPN 30%; schools UPN 1%
===========================  ======  ===============================================================
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, fields, replace
from typing import Final

import numpy as np

from hub.synth.names import NICKNAMES
from hub.synth.volumes import EPOCH, PERIOD_START

KEYBOARD_NEIGHBOURS: Final = {
    "a": "sqwz",
    "b": "vngh",
    "c": "xvdf",
    "d": "sfec",
    "e": "wrd",
    "f": "dgrv",
    "g": "fhtb",
    "h": "gjyn",
    "i": "uok",
    "j": "hkum",
    "k": "jlim",
    "l": "kop",
    "m": "njk",
    "n": "bmhj",
    "o": "ipl",
    "p": "ol",
    "q": "wa",
    "r": "etf",
    "s": "adwx",
    "t": "ryg",
    "u": "yij",
    "v": "cbf",
    "w": "qes",
    "x": "zcs",
    "y": "tuh",
    "z": "xa",
}


@dataclass(frozen=True)
class NoiseRates:
    """Probabilities at ``noise=1.0`` (see the module docstring); ``scaled`` applies ``noise``."""

    name_typo: float = 0.03
    nickname: float = 0.04
    name_case: float = 0.10
    apostrophe: float = 0.30
    diacritics: float = 0.40
    double_barrelled: float = 0.30
    dob_error: float = 0.02
    dob_format: float = 0.05
    postcode_stale: float = 0.27
    postcode_format: float = 0.15
    nhs_format: float = 0.30
    nhs_mistyped: float = 0.01
    pnc_format: float = 0.25
    upn_format: float = 0.02
    sex_unknown: float = 0.01
    duplicate_urn: float = 0.02
    age_estimate: float = 0.30
    police_dob_missing: float = 0.02
    police_postcode_missing: float = 0.03
    police_pnc_missing_suspect: float = 0.10
    police_pnc_missing_victim: float = 0.60
    ed_nhs_missing: float = 0.08
    ed_dob_missing: float = 0.03
    ed_postcode_missing: float = 0.03
    ed_assault_time_missing: float = 0.12
    ambulance_name_missing: float = 0.15
    ambulance_dob_missing: float = 0.50
    ambulance_nhs_missing: float = 0.55
    ambulance_age_missing: float = 0.05
    yj_upn_missing: float = 0.30
    schools_upn_missing: float = 0.01

    def scaled(self, noise: float) -> NoiseRates:
        """Every rate times ``noise``, capped at 1."""
        return replace(
            self, **{f.name: min(1.0, getattr(self, f.name) * noise) for f in fields(self)}
        )


def typo(value: str, rng: np.random.Generator) -> str:
    """One keyboard slip: adjacent transposition, deletion, substitution or doubled letter."""
    if len(value) < 3:
        return value + value[-1:]
    pos = int(rng.integers(1, len(value) - 1)) if rng.random() < 0.85 else 0
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
    if kind == 1:
        return value[:pos] + value[pos + 1 :]
    if kind == 2:
        char = value[pos]
        near = KEYBOARD_NEIGHBOURS.get(char.lower(), "e")
        new = near[int(rng.integers(0, len(near)))]
        return value[:pos] + (new.upper() if char.isupper() else new) + value[pos + 1 :]
    return value[: pos + 1] + value[pos] + value[pos + 1 :]


def case_variant(value: str, rng: np.random.Generator) -> str:
    """How systems and staff differ in case and stray whitespace."""
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return value.upper()
    if kind == 1:
        return value.lower()
    if kind == 2:
        return f" {value.upper()} "
    if kind == 3:
        return value + "  "
    return " " + value


def nickname(value: str, rng: np.random.Generator) -> str:
    """A short form of a formal forename, when the table has one."""
    short = NICKNAMES.get(value)
    return short[int(rng.integers(0, len(short)))] if short else value


def apostrophe_variant(value: str, rng: np.random.Generator) -> str:
    """O'Brien as other systems hold it: OBrien, O Brien, O’Brien, O'brien."""
    if "'" not in value:
        return value
    head, tail = value.split("'", 1)
    options = (head + tail, f"{head} {tail}", f"{head}’{tail}", f"{head}'{tail.lower()}")
    return options[int(rng.integers(0, len(options)))]


def strip_diacritics(value: str) -> str:
    """Zoë -> Zoe, Siobhán -> Siobhan, Wiśniewski -> Wisniewski."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def double_barrelled_variant(value: str, rng: np.random.Generator) -> str:
    """Smith-Jones as Smith Jones, Jones-Smith, Smith or Jones."""
    if "-" not in value:
        return value
    first, second = value.split("-", 1)
    options = (f"{first} {second}", f"{second}-{first}", first, second)
    return options[int(rng.integers(0, len(options)))]


def has_diacritics(value: str) -> bool:
    """True when a name carries an accent, fada or diaeresis that systems may drop."""
    return strip_diacritics(value) != value


def postcode_variant(value: str, rng: np.random.Generator) -> str:
    """How a canonical postcode ("L4 0TH") is typed: "l40th", "L4  0TH", "L40TH", "l4 0th"."""
    compact = value.replace(" ", "")
    options = (compact.lower(), value.replace(" ", "  "), compact, value.lower(), value + " ")
    return options[int(rng.integers(0, len(options)))]


def nhs_variant(value: str, rng: np.random.Generator) -> str:
    """ "9434765919" as "943 476 5919" or "943-476-5919"."""
    sep = " " if rng.random() < 0.6 else "-"
    return f"{value[:3]}{sep}{value[3:6]}{sep}{value[6:]}"


def mistype_digit(value: str, rng: np.random.Generator) -> str:
    """One digit replaced by another: a single substitution always breaks the mod-11 check."""
    pos = int(rng.integers(0, len(value)))
    new = (int(value[pos]) + int(rng.integers(1, 10))) % 10
    return value[:pos] + str(new) + value[pos + 1 :]


def pnc_variant(value: str, rng: np.random.Generator) -> str:
    """ "2019/0123456X" as "19/123456X", "2019/123456X" or "2019/0123456x"."""
    year, rest = value.split("/")
    serial, check = rest[:-1].lstrip("0") or "0", rest[-1]
    options = (f"{year[2:]}/{serial}{check}", f"{year}/{serial}{check}", value[:-1] + check.lower())
    return options[int(rng.integers(0, len(options)))]


def upn_variant(value: str, rng: np.random.Generator) -> str:
    """A UPN typed in lower case or with a space after the check letter."""
    return value.lower() if rng.random() < 0.5 else f"{value[0]} {value[1:]}"


def dob_error(day: int, rng: np.random.Generator) -> int:
    """A date of birth as mis-keyed: day and month swapped, or two adjacent digits transposed.

    Returns a day number (days since 1970-01-01) of a valid, different date.
    """
    true = EPOCH + dt.timedelta(days=day)
    if true.day <= 12 and true.day != true.month and rng.random() < 0.5:
        return (dt.date(true.year, true.day, true.month) - EPOCH).days
    digits = true.strftime("%d%m%Y")
    for pos in rng.permutation([0, 2, 6]).tolist():
        keyed = digits[:pos] + digits[pos + 1] + digits[pos] + digits[pos + 2 :]
        try:
            wrong = dt.date(int(keyed[4:]), int(keyed[2:4]), int(keyed[:2]))
        except ValueError:
            continue
        if wrong != true and wrong < PERIOD_START:
            return (wrong - EPOCH).days
    return day + (1 if rng.random() < 0.5 else -1)
