"""Check digits of the identifiers partners send: NHS number, unique pupil number, PNC ID.

These are pure functions on canonical strings, shared by the normalisers (which validate) and the
synthetic partnership (which must generate valid identifiers).
"""

from __future__ import annotations

# DfE unique pupil number check letters: 0..22 -> letters without I, O and S.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
# PNC ID check characters, indexed by (YY * 10**7 + serial) mod 23.
PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus-11 check digit for the first nine digits of an NHS number.

    Returns ``None`` when the result would be 10, which no valid NHS number has.

    >>> nhs_check_digit("943476591")
    9
    """
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("nhs_check_digit needs exactly nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def nhs_number_is_valid(digits: str) -> bool:
    """True for ten digits whose last digit is the modulus-11 check digit.

    >>> nhs_number_is_valid("9434765919")
    True
    >>> nhs_number_is_valid("9434765918")
    False
    """
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def _upn_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return UPN_LETTERS.index(char)


def upn_check_letter(body: str) -> str:
    """Check letter for the twelve characters after it (11 digits + digit or temporary letter).

    >>> upn_check_letter("207000016049")
    'P'
    >>> upn_check_letter("801200005001")
    'B'
    """
    if len(body) != 12 or not body[:11].isdigit():
        raise ValueError("upn_check_letter needs eleven digits and a digit or letter")
    if not (body[11].isdigit() or body[11] in UPN_LETTERS):
        raise ValueError("the last character of a UPN is a digit or a letter other than I, O, S")
    total = sum(_upn_value(c) * w for c, w in zip(body, range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def upn_is_valid(upn: str) -> bool:
    """True for a 13-character UPN whose first letter is the check letter.

    >>> upn_is_valid("B801200005001")
    True
    >>> upn_is_valid("A801200005001")
    False
    """
    if len(upn) != 13 or upn[0] not in UPN_LETTERS:
        return False
    try:
        return upn_check_letter(upn[1:]) == upn[0]
    except ValueError:
        return False


def pnc_check_letter(year: str, serial: str) -> str:
    """Check character of a PNC ID ``YY/NNNNNNNC`` from its two-digit year and serial number.

    >>> pnc_check_letter("98", "123456")
    'G'
    """
    if len(year) != 2 or not year.isdigit() or not serial.isdigit() or not 1 <= len(serial) <= 7:
        raise ValueError("pnc_check_letter needs a two-digit year and a serial of up to 7 digits")
    return PNC_LETTERS[int(year + serial.zfill(7)) % 23]
