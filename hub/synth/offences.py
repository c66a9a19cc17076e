"""The offences of the police feed, with Home Office codes, flag rates and modus operandi text.

The mix is a broad local definition of serious violence (like Cheshire's or Lancashire's:
domestic abuse, stalking and harassment included) so every partnership's definition can be cut
from it. Codes follow the Home Office Counting Rules classification (class/subclass, zero-padded
as police systems export them: 5A -> ``005/01``, 10D -> ``010/04``); the mapping is consistent
across feeds, but check the current Counting Rules before reusing it for real data.

Flag rates follow the strategies: domestic abuse on about 30% of violence with injury and rape
and 34% of stalking and harassment; alcohol on 9-15% overall; knife on the knife-relevant types.
Homicides are placed separately (about 22 a year at default scale). Modus operandi texts are
fixed phrases: they never contain a person's name, so the privacy canary can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Offence:
    """One offence type: code, share of incidents, and per-incident probabilities."""

    name: str
    code: str
    weight: float
    group: str
    has_victim: bool = True
    knife: float = 0.0
    firearm: float = 0.0
    domestic: float = 0.0
    alcohol: float = 0.05
    female_victim: float = 0.45
    female_suspect: float = 0.15


OFFENCES: Final = (
    Offence("Assault with injury", "008/01", 0.38, "assault", knife=0.04, domestic=0.31,
            alcohol=0.20, female_victim=0.45, female_suspect=0.18),
    Offence("Wounding with intent to do GBH", "005/01", 0.035, "assault", knife=0.45,
            firearm=0.02, domestic=0.22, alcohol=0.15, female_victim=0.25, female_suspect=0.1),
    Offence("Attempted murder", "002/00", 0.0012, "assault", knife=0.55, firearm=0.12,
            domestic=0.25, alcohol=0.08, female_victim=0.3, female_suspect=0.08),
    Offence("Threats to kill", "003/02", 0.05, "threat", knife=0.25, firearm=0.02, domestic=0.35,
            alcohol=0.06, female_victim=0.55, female_suspect=0.15),
    Offence("Robbery of personal property", "034/02", 0.07, "robbery", knife=0.18,
            firearm=0.01, domestic=0.02, female_victim=0.3, female_suspect=0.08),
    Offence("Robbery of business property", "034/01", 0.012, "robbery", knife=0.25,
            firearm=0.03, alcohol=0.02, female_victim=0.5, female_suspect=0.08),
    Offence("Possession of article with blade or point", "010/04", 0.05, "weapon",
            has_victim=False, knife=1.0, domestic=0.02, female_suspect=0.1),
    Offence("Possession of other weapons", "010/03", 0.015, "weapon", has_victim=False,
            domestic=0.02, female_suspect=0.1),
    Offence("Possession of firearms with intent", "010/01", 0.002, "weapon", has_victim=False,
            firearm=1.0, female_suspect=0.05),
    Offence("Rape", "019/07", 0.06, "sexual", knife=0.03, domestic=0.30, alcohol=0.12,
            female_victim=0.9, female_suspect=0.02),
    Offence("Stalking", "008/17", 0.10, "stalking", domestic=0.34, alcohol=0.04,
            female_victim=0.78, female_suspect=0.2),
    Offence("Harassment", "008/12", 0.16, "stalking", domestic=0.34, alcohol=0.04,
            female_victim=0.65, female_suspect=0.3),
    Offence("Arson endangering life", "056/01", 0.006, "arson", domestic=0.2, alcohol=0.1,
            female_victim=0.5, female_suspect=0.25),
    Offence("Aggravated burglary", "029/00", 0.006, "burglary", knife=0.25, firearm=0.03,
            domestic=0.05, alcohol=0.03, female_victim=0.45, female_suspect=0.08),
    Offence("Murder", "001/01", 0.0, "homicide", knife=0.4, firearm=0.08, domestic=0.25,
            alcohol=0.15, female_victim=0.25, female_suspect=0.1),
    Offence("Manslaughter", "004/01", 0.0, "homicide", knife=0.2, domestic=0.2, alcohol=0.3,
            female_victim=0.2, female_suspect=0.1),
)  # fmt: skip
MURDER: Final = 14
MANSLAUGHTER: Final = 15
WEAPON_GROUP: Final = "weapon"
# Offences young people are dealt with for by youth justice (indices into OFFENCES).
YOUTH_OFFENCES: Final = (0, 1, 3, 4, 6, 7, 11)
YOUTH_WEIGHTS: Final = (0.40, 0.07, 0.06, 0.20, 0.17, 0.05, 0.05)

# Shared by the police location of an incident and the ISTV assault location type.
LOCATIONS: Final = (
    "Street or public place",
    "Licensed premises",
    "Home",
    "Workplace",
    "School or college",
    "Public transport",
    "Other",
)
STREET, LICENSED, HOME, WORK, SCHOOL, TRANSPORT, OTHER = range(7)
LOCATION_MIX: Final[dict[str, tuple[float, ...]]] = {
    "assault": (0.45, 0.12, 0.20, 0.06, 0.04, 0.05, 0.08),
    "threat": (0.40, 0.05, 0.40, 0.05, 0.02, 0.03, 0.05),
    "robbery": (0.75, 0.02, 0.03, 0.08, 0.01, 0.08, 0.03),
    "weapon": (0.80, 0.02, 0.03, 0.01, 0.05, 0.05, 0.04),
    "sexual": (0.20, 0.05, 0.55, 0.02, 0.01, 0.02, 0.15),
    "stalking": (0.15, 0.01, 0.60, 0.10, 0.01, 0.01, 0.12),
    "arson": (0.05, 0.0, 0.90, 0.02, 0.0, 0.0, 0.03),
    "burglary": (0.0, 0.0, 0.95, 0.05, 0.0, 0.0, 0.0),
    "homicide": (0.50, 0.05, 0.40, 0.0, 0.0, 0.0, 0.05),
}

# Modus operandi phrases by (group, weapon) with weapon "knife", "firearm" or "" (none).
MO_TEXT: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("assault", ""): (
        "Victim approached outside licensed premises, struck with bottle",
        "Group of males attacked victim outside shops, kicked while on the ground",
        "Argument escalated, suspect punched victim repeatedly to the face",
        "Victim headbutted in queue for taxi rank following verbal altercation",
        "Victim struck with metal bar near the park after dispute over money",
    ),
    ("assault", "knife"): (
        "Suspect produced a knife during argument and stabbed victim in the leg",
        "Victim stabbed in the back after altercation near the bus station",
        "Victim slashed across the arm with a blade in stairwell of flats",
    ),
    ("domestic", ""): (
        "Domestic argument, suspect grabbed victim by the throat and pushed into wall",
        "Ex-partner attended home address and assaulted victim",
        "Suspect threatened partner during argument and smashed phone",
    ),
    ("domestic", "knife"): ("Suspect took kitchen knife to partner during domestic argument",),
    ("assault", "firearm"): ("Shots fired from passing vehicle, victim injured",),
    ("threat", ""): (
        "Suspect threatened to kill victim during phone call",
        "Suspect shouted threats to kill through letterbox",
    ),
    ("threat", "knife"): ("Suspect brandished knife and threatened to kill victim",),
    ("threat", "firearm"): ("Suspect displayed what appeared to be a handgun and made threats",),
    ("robbery", ""): (
        "Two suspects on pedal cycles snatched phone and punched victim",
        "Victim surrounded by group and forced to hand over bag and bank card",
    ),
    ("robbery", "knife"): (
        "Victim threatened with knife and phone demanded",
        "Shop staff threatened with knife, cash taken from till",
    ),
    ("robbery", "firearm"): ("Staff threatened with handgun, cash and cigarettes taken",),
    ("weapon", ""): (
        "Knuckle duster recovered from suspect during search",
        "Baseball bat recovered from vehicle following stop",
    ),
    ("weapon", "knife"): (
        "Suspect stopped and searched, lock knife found in waistband",
        "Machete recovered from suspect's bag following report of disturbance",
    ),
    ("weapon", "firearm"): ("Firearm recovered from vehicle following intelligence-led stop",),
    ("sexual", ""): (
        "Victim reports being raped by known male at an address",
        "Victim reports non-recent rape by acquaintance",
    ),
    ("sexual", "knife"): ("Victim threatened with knife and raped",),
    ("stalking", ""): (
        "Suspect repeatedly attended victim's workplace and sent unwanted messages",
        "Ex-partner sending abusive messages and waiting outside address",
        "Suspect followed victim home on several occasions",
    ),
    ("arson", ""): ("Petrol poured through letterbox and ignited while occupants inside",),
    ("burglary", ""): ("Suspects forced entry to dwelling armed with a bat and demanded cash",),
    ("burglary", "knife"): ("Suspects entered dwelling armed with knives and demanded car keys",),
    ("burglary", "firearm"): ("Suspects entered dwelling with a firearm and demanded cash",),
    ("homicide", ""): ("Victim assaulted and later died of injuries in hospital",),
    ("homicide", "knife"): ("Victim found with fatal stab wounds in the street",),
    ("homicide", "firearm"): ("Victim shot outside address, pronounced dead at scene",),
}
MO_PHRASES: Final = tuple(p for phrases in MO_TEXT.values() for p in phrases)


def mo_choices(group: str, weapon: str) -> list[int]:
    """Indices into ``MO_PHRASES`` for a group and weapon, falling back to no weapon."""
    phrases = MO_TEXT.get((group, weapon)) or MO_TEXT[(group, "")]
    return [MO_PHRASES.index(p) for p in phrases]
