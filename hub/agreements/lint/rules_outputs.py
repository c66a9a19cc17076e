"""Rule families for what leaves the hub: disclosure control no looser than the hub's defaults,
publication reading only staged columns, and who may use the outputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hub.agreements.lint.document import Doc, as_bool, as_int, as_text, get, items
from hub.agreements.lint.family import family
from hub.agreements.lint.problem import Loc, Problem, closest
from hub.agreements.model import HUB_ROUND_TO, HUB_SUPPRESS_AT_OR_BELOW, Treatment

_LOOSER = (
    f"looser than the hub's defaults (suppress counts of {HUB_SUPPRESS_AT_OR_BELOW} or fewer, "
    f"round to {HUB_ROUND_TO})"
)


@family("disclosure-looser", "disclosure control is at least as strict as the hub's defaults")
def disclosure_strict(doc: Doc) -> Iterator[Problem]:
    suppress = as_int(get(doc.raw, "disclosure", "suppress_at_or_below"))
    if suppress is not None and suppress < HUB_SUPPRESS_AT_OR_BELOW:
        yield Problem(
            ("disclosure", "suppress_at_or_below"),
            f"suppress_at_or_below {suppress} is {_LOOSER}",
            f"agreements may be stricter than the hub, never looser: use "
            f"{HUB_SUPPRESS_AT_OR_BELOW} or more",
        )
    round_to = as_int(get(doc.raw, "disclosure", "round_to"))
    if round_to is not None and round_to < HUB_ROUND_TO:
        yield Problem(
            ("disclosure", "round_to"),
            f"round_to {round_to} is {_LOOSER}",
            f"agreements may be stricter than the hub, never looser: use {HUB_ROUND_TO} or a "
            f"larger multiple of {HUB_ROUND_TO}",
        )


@family("disclosure-rounding", f"round_to is a multiple of {HUB_ROUND_TO}")
def disclosure_rounding(doc: Doc) -> Iterator[Problem]:
    round_to = as_int(get(doc.raw, "disclosure", "round_to"))
    if round_to is not None and round_to > HUB_ROUND_TO and round_to % HUB_ROUND_TO:
        yield Problem(
            ("disclosure", "round_to"),
            f"round_to {round_to} is not a multiple of {HUB_ROUND_TO}",
            f"use a multiple of {HUB_ROUND_TO} (e.g. 10) so outputs compare across agreements",
            warning=True,
        )


def _staged_column_problem(doc: Doc, loc: Loc, column: str) -> Problem | None:
    staged = set().union(*(f.staged_names() for f in doc.fields))
    if column in staged:
        return None
    source = doc.field(column)
    if source is not None and source.treatment in (Treatment.PSEUDONYMISE, Treatment.DROP):
        message = f"field '{column}' is {source.treatment}d, so nothing of it is staged"
    else:
        message = f"'{column}' is not a staged column of this agreement"
    meant = closest(column, staged)
    return Problem(
        loc,
        message,
        (f"did you mean '{meant}'? " if meant else "")
        + f"staged columns: {', '.join(sorted(staged)) or 'none'}",
    )


@family("publication-field-unknown", "publication reads columns that are staged")
def publication_columns(doc: Doc) -> Iterator[Problem]:
    publication = doc.raw.get("publication")
    if not isinstance(publication, Mapping):
        return
    for key, value in publication.items():
        if isinstance(key, str) and key.endswith("_field") and isinstance(value, str):
            problem = _staged_column_problem(doc, ("publication", key), value)
            if problem is not None:
                yield problem
    flags = publication.get("flags")
    if isinstance(flags, Mapping):
        for flag, spec in flags.items():
            column = get(spec, "field")
            if isinstance(column, str):
                problem = _staged_column_problem(
                    doc, ("publication", "flags", str(flag), "field"), column
                )
                if problem is not None:
                    yield problem


@family("output-access-empty", "someone may use the outputs (output_access is not empty)")
def output_access_named(doc: Doc) -> Iterator[Problem]:
    access = doc.raw.get("output_access")
    if isinstance(access, list) and not access:
        yield Problem(
            ("output_access",),
            "output_access is empty: nobody may use the outputs of this agreement",
            "add `- {who: ..., purpose: ...}` for each group that may use the outputs",
        )


@family("output-access-row-level", "outputs are disclosure-controlled aggregates only")
def output_access_aggregates(doc: Doc) -> Iterator[Problem]:
    for i, entry in items(doc.raw.get("output_access")):
        if as_bool(entry.get("row_level")):
            who = as_text(entry.get("who")) or f"output_access[{i}]"
            yield Problem(
                ("output_access", i, "row_level"),
                f"'{who}' may read pseudonymised row-level data, not only aggregates",
                "keep row_level false unless the DPIA covers analysts reading pseudonymised rows",
                warning=True,
            )
