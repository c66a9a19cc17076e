"""Rule families for the terms of the agreement: who the parties are, when it is valid and
reviewed, how long raw extracts are kept, and when deliveries arrive (schedule and time zone).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from zoneinfo import available_timezones

from croniter import croniter

from hub.agreements.lint.document import Doc, as_date, as_int, as_text, get, items
from hub.agreements.lint.family import family
from hub.agreements.lint.problem import Problem, closest
from hub.agreements.model import LANDING_DAYS_MAX


@family("party-unknown", "the provider and the hub controller are parties")
def roles_are_parties(doc: Doc) -> Iterator[Problem]:
    orgs = [org for _, p in items(doc.raw.get("parties")) if (org := as_text(p.get("org")))]
    for key in ("provider", "hub_controller"):
        org = doc.raw.get(key)
        if isinstance(org, str) and org not in orgs:
            meant = closest(org, orgs)
            yield Problem(
                (key,),
                f"{key} '{org}' is not one of the parties",
                f"did you mean '{meant}'?"
                if meant
                else "add it to parties with its role and data protection lead",
            )


@family("duplicate-party", "each party is listed once")
def duplicate_parties(doc: Doc) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for i, party in items(doc.raw.get("parties")):
        org = as_text(party.get("org"))
        if org is None:
            continue
        if org in first:
            lines = (doc.line(("parties", first[org], "org")), doc.line(("parties", i, "org")))
            yield Problem(
                ("parties", i, "org"),
                f"party '{org}' is listed twice (lines {lines[0]} and {lines[1]})",
                "list each organisation once, with one role and one data protection lead",
            )
        else:
            first[org] = i


@family("validity-window", "valid_until is on or after valid_from")
def validity_window(doc: Doc) -> Iterator[Problem]:
    start, end = as_date(doc.raw.get("valid_from")), as_date(doc.raw.get("valid_until"))
    if start is not None and end is not None and end < start:
        yield Problem(
            ("valid_until",),
            f"valid_until ({end}) is before valid_from ({start})",
            "swap the dates, or correct the year",
        )


@family("review-date", "the review date falls inside the validity window")
def review_date(doc: Doc) -> Iterator[Problem]:
    start, end = as_date(doc.raw.get("valid_from")), as_date(doc.raw.get("valid_until"))
    review = as_date(doc.raw.get("review_date"))
    if start is None or end is None or review is None or end < start:
        return
    if review > end:
        message = f"review_date ({review}) is after valid_until ({end}): it ends unreviewed"
    elif review < start:
        message = f"review_date ({review}) is before valid_from ({start})"
    else:
        return
    yield Problem(
        ("review_date",), message, "set a review date inside the validity window", warning=True
    )


@family("retention-landing", f"the landing zone keeps raw extracts {LANDING_DAYS_MAX} days at most")
def landing_retention(doc: Doc) -> Iterator[Problem]:
    days = as_int(get(doc.raw, "retention", "landing_days"))
    if days is not None and days > LANDING_DAYS_MAX:
        yield Problem(
            ("retention", "landing_days"),
            f"landing_days is {days}: raw extracts in the landing zone should be short-lived",
            f"raw extracts are deleted once staged; keep landing_days at {LANDING_DAYS_MAX} or "
            "fewer (14 is usual)",
            warning=True,
        )


@family("schedule-invalid", "delivery.schedule is a five-field cron expression")
def schedule(doc: Doc) -> Iterator[Problem]:
    written = get(doc.raw, "delivery", "schedule")
    if isinstance(written, str) and not (len(written.split()) == 5 and croniter.is_valid(written)):
        yield Problem(
            ("delivery", "schedule"),
            f"delivery.schedule '{written}' is not a five-field cron expression",
            'write minute hour day-of-month month day-of-week, e.g. "0 6 5 * *" for 06:00 on '
            "the 5th of every month",
        )


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@family("timezone-unknown", "delivery.timezone is a known time zone")
def timezone(doc: Doc) -> Iterator[Problem]:
    zone = get(doc.raw, "delivery", "timezone")
    if isinstance(zone, str) and zone not in _time_zones():
        meant = closest(zone, _time_zones())
        yield Problem(
            ("delivery", "timezone"),
            f"delivery.timezone '{zone}' is not a known time zone",
            f"did you mean '{meant}'?" if meant else "use an IANA zone name such as Europe/London",
        )


@family("longitudinal-project", "longitudinal projects are named once and end within the validity")
def longitudinal_projects(doc: Doc) -> Iterator[Problem]:
    seen: set[str] = set()
    end = as_date(doc.raw.get("valid_until"))
    for i, project in items(doc.raw.get("longitudinal_projects")):
        name = as_text(project.get("name"))
        if name is not None and name in seen:
            yield Problem(
                ("longitudinal_projects", i, "name"),
                f"longitudinal project '{name}' is listed twice",
                "name each project once",
            )
        if name is not None:
            seen.add(name)
        until = as_date(project.get("until"))
        if until is not None and end is not None and until > end:
            yield Problem(
                ("longitudinal_projects", i, "until"),
                f"longitudinal project '{name}' runs until {until}, after the agreement ends "
                f"({end})",
                "end the project on or before valid_until; a later version can extend both",
            )
