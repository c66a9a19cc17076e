"""Free-text phrases of the ED feed (ISTV assault location and other-method descriptions).

The ISTV standard asks for a free-text description of where the assault happened (up to 255
characters) so community safety partnerships can find hotspots such as a particular pub. The
phrases here are written as triage staff write them: short, lower case, naming places and never
people, so free text can be kept or dropped by an agreement without leaking identities.
"""

from __future__ import annotations

from typing import Final

# Indexed like hub.synth.offences.LOCATIONS.
LOCATION_DESCRIPTIONS: Final = (
    (
        "outside the kebab shop on the high street",
        "in the park near the playground",
        "on the street outside the shops",
        "near the bus station",
        "in the car park behind the retail park",
        "outside the chip shop on the parade",
    ),
    (
        "inside the nightclub on the main road",
        "outside the pub at closing time",
        "in the beer garden of the pub",
        "in the queue outside the club",
    ),
    ("at home", "at a friend's house", "at a house party", "at partner's flat"),
    ("at work (security job)", "at the shop where patient works", "at work, restaurant kitchen"),
    ("outside the school gates", "on the college field"),
    ("on the bus", "on the train station platform", "in a taxi"),
    ("in the stairwell of the flats", "at the football ground", "by the canal towpath"),
)
LOCATION_PHRASES: Final = tuple(p for group in LOCATION_DESCRIPTIONS for p in group)
LOCATION_OFFSETS: Final = tuple(
    sum(len(g) for g in LOCATION_DESCRIPTIONS[:i]) for i in range(len(LOCATION_DESCRIPTIONS))
)
OTHER_METHODS: Final = (
    "hit with a brick",
    "scalded with hot liquid",
    "pushed down stairs",
    "dog set on patient",
    "hit with a car door",
    "struck with an electric scooter",
)
