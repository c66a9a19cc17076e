"""How much of each feed one synthetic partnership-year holds, and the period it covers.

The default volumes are those of a partnership of about 1.5 million people (the published serious
violence strategies): about 45,000 police serious-violence incidents a year, which give about
70,000 person rows (victims and suspects), 4,000 emergency department assault attendances, 850
ambulance assault call-outs, 400 youth justice outcomes and 9,000 school suspension, exclusion and
persistent-absence events: 84,250 rows in all. A requested total is split across the feeds in the
same proportions (largest remainder, so the parts add up exactly).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from hub.errors import UserError

PERIOD_START: Final = dt.date(2025, 4, 1)
PERIOD_END: Final = dt.date(2026, 3, 31)
EPOCH: Final = dt.date(1970, 1, 1)

POLICE: Final = "police-sv"
ED: Final = "ed-assaults"
AMBULANCE: Final = "ambulance-assaults"
YOUTH_JUSTICE: Final = "youth-justice"
SCHOOLS: Final = "schools"

# agreement_id -> (default rows a year, file name under extracts/)
FEEDS: Final[dict[str, tuple[int, str]]] = {
    POLICE: (70_000, "police-sv.csv"),
    ED: (4_000, "ed-assaults.csv"),
    AMBULANCE: (850, "ambulance-assaults.csv"),
    YOUTH_JUSTICE: (400, "youth-justice.parquet"),
    SCHOOLS: (9_000, "schools.csv"),
}
DEFAULT_TOTAL: Final = sum(rows for rows, _ in FEEDS.values())
MIN_ROWS: Final = 1_000
MAX_ROWS: Final = 10_000_000
# Homicides recorded in a default partnership-year (the strategies report 20-25).
DEFAULT_HOMICIDES: Final = 22.5


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01, the integer form every plan array uses for dates.

    >>> day_number(dt.date(1970, 1, 2))
    1
    """
    return (day - EPOCH).days


def planned_rows(rows: int | None) -> dict[str, int]:
    """Rows per feed for a requested total (``None``: one default partnership-year).

    >>> planned_rows(None)["police-sv"]
    70000
    >>> sum(planned_rows(3_000).values())
    3000
    """
    if rows is None:
        return {feed: default for feed, (default, _) in FEEDS.items()}
    if isinstance(rows, bool) or not isinstance(rows, int) or not MIN_ROWS <= rows <= MAX_ROWS:
        raise UserError(
            f"rows must be a whole number between {MIN_ROWS:,} and {MAX_ROWS:,}",
            hint="omit rows for one default partnership-year (84,250 rows), or pick a total "
            "inside that range",
        )
    shares = {feed: default * rows / DEFAULT_TOTAL for feed, (default, _) in FEEDS.items()}
    counts = {feed: int(share) for feed, share in shares.items()}
    short = rows - sum(counts.values())
    by_remainder = sorted(shares, key=lambda feed: (counts[feed] - shares[feed], feed))
    for feed in by_remainder[:short]:
        counts[feed] += 1
    return counts
