"""True identifiers of the synthetic people: NHS numbers, unique pupil numbers, PNC IDs.

Every identifier is valid (its check character comes from ``hub.privacy.checksums``, the same
functions the normalisers validate with) and unique across the population.

* NHS numbers are drawn from the 9xx range. NHS numbers issued in England and Wales start 4, 6 or
  7 (3 in Northern Ireland), and the NHS Data Dictionary's own example (943 476 5919) is a 9xx
  number, so a synthetic number is a well-formed number that no real patient holds.
* A UPN is the check letter then the DfE number of the allocating local authority (3 digits),
  the establishment number of the first school (4 digits, 2xxx for primary schools), the
  two-digit year of allocation (the year the child started school) and a 3-digit serial.
* A PNC ID is ``YYYY/NNNNNNNL``: the year the person was first recorded, a 7-digit serial within
  that year and the check character.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hub.privacy.checksums import nhs_check_digit, pnc_check_letter, upn_check_letter

BLOCK = 500_000  # identifiers checked per block, to keep Python lists short


def unique_integers(rng: np.random.Generator, low: int, high: int, n: int) -> npt.NDArray[np.int64]:
    """``n`` distinct integers in ``[low, high)``, in random order.

    The range is cut into ``n`` equal buckets and one value is drawn in each, so the values are
    distinct by construction and memory stays linear in ``n`` even for ten million draws.
    """
    if n > high - low:
        raise ValueError("cannot draw more distinct integers than the range holds")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    step = (high - low) // n
    values = low + np.arange(n, dtype=np.int64) * step + rng.integers(0, step, n)
    return rng.permutation(values)


def repeats(key: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True for every value that already occurred earlier in ``key`` (sort-based, linear memory)."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    clash = np.zeros(key.size, dtype=bool)
    clash[order[1:][ordered[1:] == ordered[:-1]]] = True
    return clash


def nhs_numbers(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """``n`` distinct valid ten-digit NHS numbers (as integers) from the 9xx range."""
    count = n + n // 8 + 64
    while True:
        stems = unique_integers(rng, 900_000_000, 999_000_000, count)
        numbers = np.full(count, -1, dtype=np.int64)
        for start in range(0, count, BLOCK):
            block = stems[start : start + BLOCK]
            checks = [nhs_check_digit(str(stem)) for stem in block.tolist()]
            digits = np.array([-1 if c is None else c for c in checks], dtype=np.int64)
            numbers[start : start + BLOCK] = np.where(digits >= 0, block * 10 + digits, -1)
        valid = numbers[numbers >= 0]
        if valid.size >= n:
            return valid[:n]
        count *= 2


def upns(
    rng: np.random.Generator,
    la_number: npt.NDArray[np.int64],
    entry_year: npt.NDArray[np.int64],
) -> npt.NDArray[np.object_]:
    """One distinct UPN per child, allocated by ``la_number`` in ``entry_year`` (two digits)."""
    n = la_number.size
    establishment = rng.integers(2000, 3000, n)
    serial = rng.integers(0, 1000, n)
    while True:
        clash = repeats(((la_number * 10_000 + establishment) * 100 + entry_year) * 1000 + serial)
        if not clash.any():
            break
        establishment[clash] = rng.integers(2000, 3000, int(clash.sum()))
        serial[clash] = rng.integers(0, 1000, int(clash.sum()))
    out = np.empty(n, dtype=object)
    for start in range(0, n, BLOCK):
        part = slice(start, start + BLOCK)
        out[part] = [
            upn_check_letter(body) + body
            for body in (
                f"{la:03d}{est:04d}{year:02d}{ser:03d}"
                for la, est, year, ser in zip(
                    la_number[part].tolist(), establishment[part].tolist(),
                    entry_year[part].tolist(), serial[part].tolist(), strict=True,
                )
            )
        ]  # fmt: skip
    return out


def pnc_ids(rng: np.random.Generator, year: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """One distinct canonical PNC ID per person first recorded in ``year`` (four digits)."""
    n = year.size
    serial = rng.integers(1, 1_000_000, n)
    while True:
        clash = repeats(year * 10_000_000 + serial)
        if not clash.any():
            break
        serial[clash] = rng.integers(1, 1_000_000, int(clash.sum()))
    out = np.empty(n, dtype=object)
    for start in range(0, n, BLOCK):
        part = slice(start, start + BLOCK)
        out[part] = [
            f"{y:04d}/{digits}{pnc_check_letter(f'{y % 100:02d}', digits)}"
            for y, digits in zip(
                year[part].tolist(), (f"{s:07d}" for s in serial[part].tolist()), strict=True
            )
        ]
    return out
