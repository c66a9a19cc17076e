"""The one population of true people that runs through every feed.

People are added in segments as the feeds need them (police victims, police suspects, ED-only
patients, ambulance-only patients, young people known only to youth justice, pupils known only to
schools); the feeds reuse earlier segments to create the overlaps. Ages are skewed young, as in
serious violence: the victim and suspect profiles peak between 16 and 30. About a third of people
have moved in the two years before the period ends (two postcodes, the second from the move
date), and a share of each segment lives outside the partnership. ``build`` then gives everybody
their true identifiers: an NHS number (98.5%; the rest are e.g. recent arrivals), a UPN for
everybody of school age during the period (4-18 at its start), and a PNC ID for people with police
records (suspects, youth justice, some victims).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from hub.synth.areas import (
    LOCAL_AUTHORITIES,
    NEIGHBOUR_LA_NUMBERS,
    Geography,
    out_of_area_postcodes,
)
from hub.synth.identifiers import nhs_numbers, pnc_ids, upns
from hub.synth.names import NamePools
from hub.synth.volumes import PERIOD_END, PERIOD_START, day_number

MALE: Final = 0
FEMALE: Final = 1
NO_MOVE: Final = np.iinfo(np.int32).max
START: Final = day_number(PERIOD_START)
END: Final = day_number(PERIOD_END)
MOVER_SHARE: Final = 0.35
NHS_SHARE: Final = 0.985
YEAR: Final = 365.25


@dataclass(frozen=True)
class AgeProfile:
    """Age in years at the period start: ``offset`` + gamma(shape, scale), some children."""

    offset: float
    shape: float
    scale: float
    child_share: float = 0.0
    high: float = 95.0

    def draw(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        ages = self.offset + rng.gamma(self.shape, self.scale, n)
        children = rng.random(n) < self.child_share
        ages[children] = rng.uniform(0.0, self.offset, int(children.sum()))
        return np.minimum(ages, self.high)


VICTIM_MALE: Final = AgeProfile(10.0, 2.0, 8.5, child_share=0.04)
VICTIM_FEMALE: Final = AgeProfile(12.0, 2.4, 8.5, child_share=0.04)
SUSPECT_MALE: Final = AgeProfile(10.0, 2.0, 6.5)
SUSPECT_FEMALE: Final = AgeProfile(11.0, 2.2, 7.5)
ED_PATIENT: Final = AgeProfile(14.0, 2.4, 6.5, child_share=0.02)
AMBULANCE_PATIENT: Final = AgeProfile(14.0, 2.4, 7.5, child_share=0.02)


@dataclass(frozen=True)
class Population:
    """Columnar true people (index = row in every array)."""

    number: npt.NDArray[np.int64]  # person_id is "P" + 8 digits of this
    sex: npt.NDArray[np.int8]
    dob: npt.NDArray[np.int32]
    forename: npt.NDArray[np.int32]  # index into forename_pool
    surname: npt.NDArray[np.int32]
    home: npt.NDArray[np.int32]  # (n, 2): postcode before and after the move
    move_day: npt.NDArray[np.int32]
    nhs: npt.NDArray[np.int64]  # 0 = none
    upn: pa.StringArray  # null when none (Arrow strings: ~20 bytes a person, not ~70)
    pnc: pa.StringArray
    forename_pool: npt.NDArray[np.object_]
    surname_pool: npt.NDArray[np.object_]
    postcode_pool: npt.NDArray[np.object_]

    @property
    def size(self) -> int:
        return int(self.sex.size)

    def person_ids(self, index: npt.NDArray[np.int64]) -> list[str]:
        return [f"P{n:08d}" for n in self.number[index].tolist()]

    def postcode_at(
        self, index: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int32]:
        """The postcode each person lived at on ``day``."""
        moved = day >= self.move_day[index]
        return np.where(moved, self.home[index, 1], self.home[index, 0])  # type: ignore[no-any-return]


class PopulationBuilder:
    """Adds segments of people, then gives them identifiers in ``build``."""

    def __init__(self, geo: Geography, pools: NamePools, rng: np.random.Generator) -> None:
        self._geo = geo
        self._pools = pools
        self._rng = rng
        self._parts: dict[str, list[npt.NDArray[np.integer[Any]]]] = {
            k: [] for k in ("sex", "dob", "forename", "surname", "out", "home0", "home1", "move")
        }
        self._pnc: list[npt.NDArray[np.bool_]] = []
        self.size = 0

    def add(
        self,
        n: int,
        *,
        female: float,
        ages: AgeProfile | npt.NDArray[np.float64],
        out_of_area: float,
    ) -> npt.NDArray[np.int64]:
        """Add ``n`` people; returns their indices."""
        rng, pools, geo = self._rng, self._pools, self._geo
        sex = (rng.random(n) < female).astype(np.int64)
        years = ages.draw(rng, n) if isinstance(ages, AgeProfile) else ages
        dob = START - np.floor(years * YEAR).astype(np.int64) - 1
        forename = np.empty(n, dtype=np.int64)
        offset = 0
        for code in (MALE, FEMALE):
            mask = sex == code
            weights = pools.forename_weights[code]
            forename[mask] = offset + rng.choice(weights.size, int(mask.sum()), p=weights)
            offset += weights.size
        surname = rng.choice(pools.surname_weights.size, n, p=pools.surname_weights)
        out = rng.random(n) < out_of_area
        home0 = rng.choice(geo.postcode.size, n, p=geo.residence_weight)
        home1 = rng.choice(geo.postcode.size, n, p=geo.residence_weight)
        mover = rng.random(n) < MOVER_SHARE
        move = np.where(mover, rng.integers(START - 730, END + 1, n), NO_MOVE)
        home1 = np.where(mover, home1, home0)
        for key, value in (
            ("sex", sex), ("dob", dob), ("forename", forename), ("surname", surname),
            ("out", out), ("home0", home0), ("home1", home1), ("move", move),
        ):  # fmt: skip
            self._parts[key].append(value.astype(np.int8 if key in ("sex", "out") else np.int32))
        self._pnc.append(np.zeros(n, dtype=bool))
        index = np.arange(self.size, self.size + n, dtype=np.int64)
        self.size += n
        return index

    def column(self, key: str) -> npt.NDArray[np.integer[Any]]:
        """A column of everybody added so far (``sex``, ``dob``, ``out``...): int8 or int32."""
        if not self._parts[key]:
            return np.zeros(0, np.int32)
        joined = np.concatenate(self._parts[key])
        self._parts[key] = [joined]
        return joined

    def give_pnc(self, index: npt.NDArray[np.int64], share: float = 1.0) -> None:
        """Mark people (each with probability ``share``) as having a police record."""
        flags = np.concatenate(self._pnc)
        flags[index[self._rng.random(index.size) < share]] = True
        self._pnc = [flags]

    def build(self) -> Population:
        """Everybody, with postcodes outside the area and their true identifiers."""
        rng, geo = self._rng, self._geo
        n = self.size
        col = {key: self.column(key) for key in self._parts}
        out = col["out"].astype(bool)
        pool = out_of_area_postcodes(rng, int(np.clip(out.sum() // 3, 50, 200_000)))
        home = np.stack([col["home0"], col["home1"]], axis=1)
        moved = home[:, 0] != home[:, 1]
        for j in (0, 1):
            drawn = geo.postcode.size + rng.integers(0, pool.size, n, dtype=np.int32)
            home[:, j] = np.where(out, drawn, home[:, j])
        home[:, 1] = np.where(out & ~moved, home[:, 0], home[:, 1])
        nhs = nhs_numbers(rng, n)
        nhs[rng.random(n) >= NHS_SHARE] = 0
        dob = col["dob"]
        age_at_start = (START - dob) / YEAR
        upn = np.full(n, None, dtype=object)
        school = np.flatnonzero((age_at_start >= 4) & (age_at_start < 19))
        la_numbers = np.array([la[1] for la in LOCAL_AUTHORITIES])
        home_la = geo.lsoa_la[geo.postcode_lsoa[np.minimum(home[school, 0], geo.postcode.size - 1)]]
        la = np.where(
            out[school],
            rng.choice(np.array(NEIGHBOUR_LA_NUMBERS), school.size),
            la_numbers[home_la],
        )
        birth_year = 1970 + np.floor(dob[school] / YEAR).astype(np.int64)
        upn[school] = upns(rng, la, (birth_year + 5) % 100)
        upn_arrow = pa.array(upn, type=pa.string())
        del upn
        pnc = np.full(n, None, dtype=object)
        birth_years = 1970 + np.floor(dob / YEAR).astype(np.int64)
        first_year = np.maximum(birth_years + 10, 1995)
        recorded = np.flatnonzero(np.concatenate(self._pnc) & (first_year <= 2025))
        year = first_year[recorded] + np.floor(
            rng.random(recorded.size) * (2026 - first_year[recorded])
        ).astype(np.int64)
        pnc[recorded] = pnc_ids(rng, year)
        pnc_arrow = pa.array(pnc, type=pa.string())
        del pnc
        return Population(
            number=rng.permutation(n).astype(np.int64) + 1,
            sex=col["sex"].astype(np.int8),
            dob=dob.astype(np.int32),
            forename=col["forename"].astype(np.int32),
            surname=col["surname"].astype(np.int32),
            home=home.astype(np.int32),
            move_day=np.where(home[:, 0] != home[:, 1], col["move"], NO_MOVE).astype(np.int32),
            nhs=nhs,
            upn=upn_arrow,
            pnc=pnc_arrow,
            forename_pool=np.concatenate(self._pools.forenames),
            surname_pool=self._pools.surnames,
            postcode_pool=np.concatenate([geo.postcode, pool]),
        )
