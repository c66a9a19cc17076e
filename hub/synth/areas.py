"""The area of the fictional partnership: five local authorities, their LSOAs and postcodes.

Three authorities are real (Halton, Knowsley, Liverpool: the 119 LSOA codes and names of the
data.police.uk Merseyside sample, in ``data/lsoa.csv``); two are fictional (Brookvale and
Greyford, LSOA-style codes ``E01990001``...). Every postcode is invented but has a valid format:
outward codes realistic for the area (L1-L25 for Liverpool, L14-L36 for Knowsley, WA7/WA8 for
Halton, the non-existent postcode areas BV and GF for the fictional authorities) and an inward
code of a digit and two letters from the 20 letters inward codes use. The LSOAs of one MSOA share
an outward code, as they would on the ground.

The geography is reference data (like the ONS postcode directory): it does not depend on the
run's seed, so every synthetic partnership shares one ``postcode_lsoa.csv``. About a quarter of
victims live outside the partnership; their postcodes come from neighbouring areas (Manchester,
Wirral, Warrington, Preston, Sefton...) and are, by construction, absent from the lookup.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

GEOGRAPHY_SEED: Final = 1594
INWARD_LETTERS: Final = "ABDEFGHJLNPQRSTUWXYZ"

# name, DfE local authority number, ED site serving it, share of residents, outward codes
LOCAL_AUTHORITIES: Final[tuple[tuple[str, int, str, float, tuple[str, ...]], ...]] = (
    ("Halton", 876, "RBN01", 0.10, ("WA7", "WA8")),
    (
        "Knowsley",
        340,
        "RBN01",
        0.20,
        ("L14", "L16", "L26", "L27", "L28", "L32", "L33", "L34", "L35", "L36"),
    ),
    ("Liverpool", 341, "REM21", 0.40, tuple(f"L{n}" for n in (*range(1, 14), 15, *range(17, 26)))),
    ("Brookvale", 991, "RZB01", 0.17, tuple(f"BV{n}" for n in range(1, 10))),
    ("Greyford", 992, "RZB01", 0.13, tuple(f"GF{n}" for n in range(1, 8))),
)
ED_SITES: Final = ("REM21", "RBN01", "RZB01")
# DfE numbers of neighbouring authorities, for pupils who live outside the partnership.
NEIGHBOUR_LA_NUMBERS: Final = (342, 343, 344, 352, 877, 888, 896)
OUT_OF_AREA_OUTWARDS: Final = (
    *(f"M{n}" for n in range(1, 41)),
    *(f"WA{n}" for n in (1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16)),
    *(f"CH{n}" for n in range(41, 67)),
    *(f"PR{n}" for n in range(1, 10)),
    *(f"WN{n}" for n in range(1, 9)),
    *(f"L{n}" for n in (20, 21, 22, 23, 30, 31, 37, 38, 39, 40)),
    *(f"CW{n}" for n in range(1, 13)),
)
FICTIONAL_LSOAS: Final = (("Brookvale", 40), ("Greyford", 30))


@dataclass(frozen=True)
class Geography:
    """LSOAs (index i) and in-area postcodes (index j) with the weights the feeds draw from."""

    lsoa_code: npt.NDArray[np.object_]
    lsoa_name: npt.NDArray[np.object_]
    lsoa_la: npt.NDArray[np.int8]
    offence_weight: npt.NDArray[np.float64]
    night_time_economy: npt.NDArray[np.bool_]
    postcode: npt.NDArray[np.object_]
    postcode_lsoa: npt.NDArray[np.int32]
    residence_weight: npt.NDArray[np.float64]

    @property
    def la_names(self) -> tuple[str, ...]:
        return tuple(la[0] for la in LOCAL_AUTHORITIES)


def _lsoas() -> list[tuple[str, str, int]]:
    names = [la[0] for la in LOCAL_AUTHORITIES]
    text = resources.files("hub.synth").joinpath("data/lsoa.csv").read_text(encoding="utf-8")
    rows = [(r["lsoa_code"], r["lsoa_name"]) for r in csv.DictReader(text.splitlines())]
    out = [(code, name, names.index(name.rsplit(" ", 1)[0])) for code, name in rows]
    serial = 1
    for la_name, count in FICTIONAL_LSOAS:
        for k in range(count):
            name = f"{la_name} {k // 4 + 1:03d}{'ABCD'[k % 4]}"
            out.append((f"E0199{serial:04d}", name, names.index(la_name)))
            serial += 1
    return out


def _inward(rng: np.random.Generator, n: int) -> list[str]:
    digits = rng.integers(0, 10, n)
    letters = rng.integers(0, len(INWARD_LETTERS), (n, 2))
    return [
        f"{d}{INWARD_LETTERS[a]}{INWARD_LETTERS[b]}"
        for d, (a, b) in zip(digits.tolist(), letters.tolist(), strict=True)
    ]


def build_geography() -> Geography:
    """The partnership's fixed geography (seeded by ``GEOGRAPHY_SEED``, not the run's seed)."""
    rng = np.random.default_rng(GEOGRAPHY_SEED)
    lsoas = _lsoas()
    la = np.array([la_index for _, _, la_index in lsoas], dtype=np.int8)
    outward_of: dict[tuple[int, str], str] = {}
    postcodes: list[str] = []
    postcode_lsoa: list[int] = []
    seen: set[str] = set()
    for i, (_, name, la_index) in enumerate(lsoas):
        msoa = name.rsplit(" ", 1)[1][:3]
        outwards = LOCAL_AUTHORITIES[la_index][4]
        key = (la_index, msoa)
        if key not in outward_of:
            outward_of[key] = outwards[int(rng.integers(0, len(outwards)))]
        count = int(rng.integers(4, 11))
        for inward in _inward(rng, count * 2):
            postcode = f"{outward_of[key]} {inward}"
            if postcode not in seen and count > 0:
                seen.add(postcode)
                postcodes.append(postcode)
                postcode_lsoa.append(i)
                count -= 1
    # Offences concentrate: a few hotspots (city-centre-like, night-time economy) hold about a
    # fifth of serious violence, as Merseyside reports for its hotspots.
    la_share = np.array([a[3] for a in LOCAL_AUTHORITIES])
    per_la = np.bincount(la, minlength=len(LOCAL_AUTHORITIES))
    base = la_share[la] / per_la[la] * rng.lognormal(0.0, 0.6, len(lsoas))
    hotspots = np.zeros(len(lsoas), dtype=bool)
    for la_index, picks in ((2, 2), (3, 1)):
        candidates = np.flatnonzero(la == la_index)
        hotspots[rng.choice(candidates, picks, replace=False)] = True
    offence = np.where(hotspots, base.sum() * 0.09, base)
    pc_lsoa = np.array(postcode_lsoa, dtype=np.int32)
    per_lsoa = np.bincount(pc_lsoa, minlength=len(lsoas))
    residence = la_share[la[pc_lsoa]] / per_la[la[pc_lsoa]] / per_lsoa[pc_lsoa]
    residence = residence * rng.lognormal(0.0, 0.3, len(postcodes))
    return Geography(
        lsoa_code=np.array([c for c, _, _ in lsoas], dtype=object),
        lsoa_name=np.array([n for _, n, _ in lsoas], dtype=object),
        lsoa_la=la,
        offence_weight=offence / offence.sum(),
        night_time_economy=hotspots,
        postcode=np.array(postcodes, dtype=object),
        postcode_lsoa=pc_lsoa,
        residence_weight=residence / residence.sum(),
    )


def out_of_area_postcodes(rng: np.random.Generator, n: int) -> npt.NDArray[np.object_]:
    """``n`` distinct valid-format postcodes from neighbouring areas (never in the lookup)."""
    found: dict[str, None] = {}
    while len(found) < n:
        need = n - len(found)
        outward = rng.integers(0, len(OUT_OF_AREA_OUTWARDS), need + need // 10 + 8)
        for o, inward in zip(outward.tolist(), _inward(rng, outward.size), strict=True):
            found.setdefault(f"{OUT_OF_AREA_OUTWARDS[o]} {inward}")
    return np.array(list(found)[:n], dtype=object)


def write_reference(geo: Geography, path: Path) -> None:
    """``postcode,lsoa_code,lsoa_name,local_authority`` in canonical postcode form."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = geo.la_names
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["postcode", "lsoa_code", "lsoa_name", "local_authority"])
        for postcode, i in zip(geo.postcode.tolist(), geo.postcode_lsoa.tolist(), strict=True):
            writer.writerow(
                [postcode, geo.lsoa_code[i], geo.lsoa_name[i], names[int(geo.lsoa_la[i])]]
            )
