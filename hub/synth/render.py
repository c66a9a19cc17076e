"""Identifier columns as one partner's system would hold them: true values plus noise.

Each function takes people (indices into the population) for a chunk of rows and returns a
pyarrow array. The common case is vectorised (pool look-ups, pyarrow ``strftime``); only the few
rows that draw a noise event go through Python string functions, so a ten-million-row run stays
fast. Which noise applies, and how often, is in ``hub.synth.noise``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hub.synth import noise
from hub.synth.areas import Geography
from hub.synth.names import NICKNAMES
from hub.synth.noise import NoiseRates
from hub.synth.population import Population

Array = npt.NDArray[Any]
DATE_FORMATS: Final = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d")


@dataclass(frozen=True)
class Context:
    """What every feed renderer needs: the people, the area, the scaled noise rates."""

    pop: Population
    geo: Geography
    rates: NoiseRates
    forename_flags: dict[str, Array]
    surname_flags: dict[str, Array]

    @classmethod
    def create(cls, pop: Population, geo: Geography, rates: NoiseRates) -> Context:
        def flags(pool: Array) -> dict[str, Array]:
            names = pool.tolist()
            return {
                "nickname": np.array([n in NICKNAMES for n in names]),
                "diacritics": np.array([noise.has_diacritics(n) for n in names]),
                "apostrophe": np.array(["'" in n for n in names]),
                "hyphen": np.array(["-" in n for n in names]),
            }

        return cls(pop, geo, rates, flags(pop.forename_pool), flags(pop.surname_pool))


def _apply(
    values: Array,
    mask: Array,
    func: Callable[[str, np.random.Generator], str],
    rng: np.random.Generator,
) -> None:
    for i in np.flatnonzero(mask).tolist():
        if values[i] is not None:
            values[i] = func(values[i], rng)


def _objects(column: pa.Array, index: Array) -> Array:
    """``column[index]`` as an object array of str and None, ready for Python noise."""
    taken = column.take(pa.array(index, type=pa.int64()))
    return np.asarray(taken.to_numpy(zero_copy_only=False), dtype=object)


def strings(values: Array, missing: Array | None = None) -> pa.Array:
    """An object array of str (None = null) as a pyarrow string array."""
    if missing is not None:
        values = np.where(missing, None, values)  # type: ignore[call-overload]
    return pa.array(values, type=pa.string())


def names(ctx: Context, person: Array, rng: np.random.Generator) -> tuple[Array, Array]:
    """Forenames and surnames (object arrays) with nickname, variant, typo and case noise."""
    pop, r, n = ctx.pop, ctx.rates, person.size
    fi, si = pop.forename[person], pop.surname[person]
    fore, sur = pop.forename_pool[fi], pop.surname_pool[si]
    u = rng.random((n, 6))
    _apply(fore, (u[:, 0] < r.nickname) & ctx.forename_flags["nickname"][fi], noise.nickname, rng)
    strip = u[:, 1] < r.diacritics
    for values, idx, flags in ((fore, fi, ctx.forename_flags), (sur, si, ctx.surname_flags)):
        _apply(
            values, strip & flags["diacritics"][idx], lambda v, _: noise.strip_diacritics(v), rng
        )
    _apply(sur, (u[:, 2] < r.apostrophe) & ctx.surname_flags["apostrophe"][si],
           noise.apostrophe_variant, rng)  # fmt: skip
    _apply(sur, (u[:, 3] < r.double_barrelled) & ctx.surname_flags["hyphen"][si],
           noise.double_barrelled_variant, rng)  # fmt: skip
    typo = u[:, 4] < r.name_typo
    on_fore = rng.random(n) < 0.4
    _apply(fore, typo & on_fore, noise.typo, rng)
    _apply(sur, typo & ~on_fore, noise.typo, rng)
    case = u[:, 5] < r.name_case
    _apply(fore, case, noise.case_variant, rng)
    _apply(sur, case, noise.case_variant, rng)
    return fore, sur


def dob_days(ctx: Context, person: Array, rng: np.random.Generator) -> Array:
    """True dates of birth (day numbers), a few mis-keyed."""
    dob = ctx.pop.dob[person].astype(np.int64)
    for i in np.flatnonzero(rng.random(person.size) < ctx.rates.dob_error).tolist():
        dob[i] = noise.dob_error(int(dob[i]), rng)
    return dob


def format_days(days: Array, fmt: str) -> Array:
    """Day numbers as strings in ``fmt`` (an object array)."""
    stamps = pa.array(days.astype(np.int64) * 86_400, type=pa.timestamp("s"))
    return np.asarray(pc.strftime(stamps, format=fmt).to_numpy(zero_copy_only=False), dtype=object)


def format_minutes(minutes: Array, fmt: str) -> pa.Array:
    """Minutes since 1970-01-01 as strings in ``fmt``."""
    stamps = pa.array(minutes.astype(np.int64) * 60, type=pa.timestamp("s"))
    return pc.strftime(stamps, format=fmt)


def dates_of_birth(
    ctx: Context, person: Array, rng: np.random.Generator, fmt: str, missing: float
) -> pa.Array:
    """Dates of birth in the partner's format, ~5% in another one, some missing."""
    days = dob_days(ctx, person, rng)
    out = format_days(days, fmt)
    other = [f for f in DATE_FORMATS if f != fmt]
    alt = np.flatnonzero(rng.random(person.size) < ctx.rates.dob_format)
    choice = rng.integers(0, len(other), alt.size)
    for k, f in enumerate(other):
        at = alt[choice == k]
        if at.size:
            out[at] = format_days(days[at], f)
    return strings(out, rng.random(person.size) < missing)


def postcodes(
    ctx: Context, person: Array, day: Array, rng: np.random.Generator, missing: float
) -> pa.Array:
    """The postcode on the record's date, sometimes the old one, in typed variants."""
    pop, r = ctx.pop, ctx.rates
    moved = day >= pop.move_day[person]
    stale = moved & (rng.random(person.size) < r.postcode_stale)
    code = np.where(stale, pop.home[person, 0], pop.postcode_at(person, day))
    values = pop.postcode_pool[code]
    _apply(values, rng.random(person.size) < r.postcode_format, noise.postcode_variant, rng)
    return strings(values, rng.random(person.size) < missing)


def nhs_numbers(ctx: Context, person: Array, rng: np.random.Generator, missing: float) -> pa.Array:
    """NHS numbers: plain, spaced or dashed, 1% mistyped, some missing."""
    number = ctx.pop.nhs[person]
    values = np.asarray(
        pa.array(number).cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object
    )
    n, r = person.size, ctx.rates
    _apply(values, rng.random(n) < r.nhs_mistyped, noise.mistype_digit, rng)
    _apply(values, rng.random(n) < r.nhs_format, noise.nhs_variant, rng)
    return strings(values, (number == 0) | (rng.random(n) < missing))


def pnc_ids(ctx: Context, person: Array, rng: np.random.Generator, missing: Array) -> pa.Array:
    """PNC IDs in the formats officers type them; ``missing`` is a per-row probability."""
    values = _objects(ctx.pop.pnc, person)
    _apply(values, rng.random(person.size) < ctx.rates.pnc_format, noise.pnc_variant, rng)
    return strings(values, rng.random(person.size) < missing)


def upns(ctx: Context, person: Array, rng: np.random.Generator, missing: float) -> pa.Array:
    """Unique pupil numbers, a few in lower case or spaced, some missing."""
    values = _objects(ctx.pop.upn, person)
    _apply(values, rng.random(person.size) < ctx.rates.upn_format, noise.upn_variant, rng)
    return strings(values, rng.random(person.size) < missing)


def sexes(
    ctx: Context,
    person: Array,
    rng: np.random.Generator,
    codes: tuple[str, str],
    unknown: tuple[str, ...],
) -> pa.Array:
    """Sex in the partner's code list (male, female), a few recorded as unknown."""
    values = np.array(codes, dtype=object)[ctx.pop.sex[person]]
    if unknown:
        lost = np.flatnonzero(rng.random(person.size) < ctx.rates.sex_unknown)
        values[lost] = np.array(unknown, dtype=object)[rng.integers(0, len(unknown), lost.size)]
    return strings(values)


def ages_at(ctx: Context, person: Array, day: Array) -> Array:
    """Whole years of age on ``day`` (calendar exact)."""
    dob = ctx.pop.dob[person].astype("datetime64[D]")
    on = day.astype("datetime64[D]")

    def parts(d: Array) -> tuple[Array, Array]:
        months = d.astype("datetime64[M]")
        year = months.astype("datetime64[Y]").astype(np.int64)
        month_day = (months.astype(np.int64) % 12) * 100 + (d - months).astype(np.int64)
        return year, month_day

    (y_on, md_on), (y_dob, md_dob) = parts(on), parts(dob)
    return y_on - y_dob - (md_on < md_dob).astype(np.int64)


def pick(options: tuple[str, ...], index: Array) -> pa.Array:
    """``options[index]`` for every row, as a string array (negative index = null)."""
    table = pa.array(options, type=pa.string())
    return table.take(pa.array(index.astype(np.int64), mask=index < 0))
