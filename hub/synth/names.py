"""Pools of forenames (by sex) and surnames, and the nickname table the noise draws on.

The pools come from faker's ``en_GB`` person provider, seeded with ``Faker.seed_instance`` so a
seed always gives the same pools, then a handful of names the linkage has to cope with: Irish
names with fadas and O' surnames (Merseyside has a large Irish-heritage population), names with
diaeresis or accents, Polish and Portuguese surnames, and the formal forms of every nickname.
Names are drawn with numpy, not faker, so a draw of millions costs one vectorised call. Weights
fall with the order faker first returned a name (a Zipf-like curve), so some names are common
and two different people often share a name, as they do in real registers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from faker import Faker

# Formal forename -> the short forms people give or staff type (about forty entries).
NICKNAMES: Final[dict[str, tuple[str, ...]]] = {
    "William": ("Bill", "Will", "Billy"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Elizabeth": ("Liz", "Beth", "Lizzie"),
    "Katherine": ("Kate", "Kathy"),
    "Catherine": ("Cathy", "Kate"),
    "Michael": ("Mike", "Mick"),
    "Thomas": ("Tom", "Tommy"),
    "Daniel": ("Dan", "Danny"),
    "Christopher": ("Chris",),
    "Jennifer": ("Jen", "Jenny"),
    "Rebecca": ("Becky", "Becca"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Joseph": ("Joe", "Joey"),
    "Samuel": ("Sam", "Sammy"),
    "Benjamin": ("Ben",),
    "Matthew": ("Matt",),
    "Anthony": ("Tony", "Ant"),
    "Andrew": ("Andy", "Drew"),
    "Jonathan": ("Jon", "Jonny"),
    "Nicholas": ("Nick",),
    "Alexander": ("Alex",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Richard": ("Rich", "Rick"),
    "Stephen": ("Steve",),
    "Steven": ("Steve",),
    "Timothy": ("Tim",),
    "Peter": ("Pete",),
    "David": ("Dave", "Davy"),
    "Joshua": ("Josh",),
    "Nathan": ("Nate",),
    "Zachary": ("Zach",),
    "Charles": ("Charlie",),
    "Henry": ("Harry",),
    "Frederick": ("Fred", "Freddie"),
    "Margaret": ("Maggie", "Peggy"),
    "Victoria": ("Vicky", "Tori"),
    "Samantha": ("Sam",),
    "Alexandra": ("Alex", "Lexi"),
    "Jessica": ("Jess",),
    "Abigail": ("Abby",),
    "Charlotte": ("Charlie", "Lottie"),
    "Deborah": ("Debbie", "Deb"),
    "Susan": ("Sue",),
    "Patricia": ("Pat", "Trish"),
    "Natalie": ("Nat",),
    "Kimberley": ("Kim",),
    "Amanda": ("Mandy",),
    "Jacqueline": ("Jackie",),
    "Eleanor": ("Ellie",),
}
EXTRA_MALE: Final = ("Seán", "Ciarán", "José", "Noël", "Dafydd", "Tomasz", "Kacper", "Mohammed")
EXTRA_FEMALE: Final = ("Siobhán", "Róisín", "Zoë", "Chloë", "Renée", "Siân", "Niamh", "Aoife")
EXTRA_SURNAMES: Final = (
    "O'Brien",
    "O'Neill",
    "O'Connor",
    "O'Sullivan",
    "O'Reilly",
    "O'Hara",
    "O'Donnell",
    "D'Souza",
    "Müller",
    "Wiśniewski",
    "Gonçalves",
    "Núñez",
    "Kowalczyk",
    "Nowak",
    "McNamara",
    "McLoughlin",
)
MALE_FORMAL: Final = [
    "William",
    "Robert",
    "Michael",
    "Thomas",
    "Daniel",
    "Christopher",
    "James",
    "Joseph",
    "Samuel",
    "Benjamin",
    "Matthew",
    "Anthony",
    "Andrew",
    "Jonathan",
    "Nicholas",
    "Alexander",
    "Edward",
    "Richard",
    "Stephen",
    "Steven",
    "Timothy",
    "Peter",
    "David",
    "Joshua",
    "Nathan",
    "Zachary",
    "Charles",
    "Henry",
    "Frederick",
]
DOUBLE_BARRELLED_SHARE: Final = 0.02
EXTRA_SHARE: Final = 0.05


@dataclass(frozen=True)
class NamePools:
    """Forename pools by sex (0 = male, 1 = female), one surname pool, and their weights."""

    forenames: tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]
    forename_weights: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
    surnames: npt.NDArray[np.object_]
    surname_weights: npt.NDArray[np.float64]


def _faker_pool(draw: Callable[[], str], count: int) -> list[str]:
    names: dict[str, None] = {}
    for _ in range(count):
        names.setdefault(draw())
    return list(names)


def _weights(common: int, extra: int, extra_share: float) -> npt.NDArray[np.float64]:
    zipf = 1.0 / (np.arange(common) + 8.0) ** 0.9
    zipf *= (1.0 - extra_share) / zipf.sum()
    rare = np.full(extra, extra_share / extra) if extra else np.zeros(0)
    return np.concatenate([zipf, rare])


def build_name_pools(seed: int) -> NamePools:
    """Seeded pools: faker en_GB names, then the extras and formal forms of the nicknames."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    pools: list[npt.NDArray[np.object_]] = []
    weights: list[npt.NDArray[np.float64]] = []
    female_formal = [n for n in NICKNAMES if n not in MALE_FORMAL]
    for draw, formal, extra in (
        (fake.first_name_male, MALE_FORMAL, EXTRA_MALE),
        (fake.first_name_female, female_formal, EXTRA_FEMALE),
    ):
        common = _faker_pool(draw, 1_500)
        common += [n for n in formal if n not in common]
        extras = [n for n in extra if n not in common]
        pools.append(np.array(common + extras, dtype=object))
        weights.append(_weights(len(common), len(extras), EXTRA_SHARE / 2))
    surnames = _faker_pool(fake.last_name, 4_000)
    extras = [n for n in EXTRA_SURNAMES if n not in surnames]
    rng = np.random.default_rng(seed)
    pairs = rng.choice(len(surnames), (150, 2), replace=True)
    doubled = sorted({f"{surnames[a]}-{surnames[b]}" for a, b in pairs.tolist() if a != b})
    surname_weights = np.concatenate(
        [
            _weights(len(surnames), len(extras), EXTRA_SHARE) * (1 - DOUBLE_BARRELLED_SHARE),
            np.full(len(doubled), DOUBLE_BARRELLED_SHARE / len(doubled)),
        ]
    )
    return NamePools(
        forenames=(pools[0], pools[1]),
        forename_weights=(weights[0] / weights[0].sum(), weights[1] / weights[1].sum()),
        surnames=np.array(surnames + extras + doubled, dtype=object),
        surname_weights=surname_weights / surname_weights.sum(),
    )
