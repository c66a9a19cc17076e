"""Rule families for the shape of the fields: keys and field names written once, generalise
rules that fit their field, ages computed at a received date, and linkage keys built only from
identifiers the partner sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import yaml

from hub.agreements.lint.document import Doc, Field, as_enum, as_int, as_text, items
from hub.agreements.lint.family import family
from hub.agreements.lint.problem import Loc, Problem, closest
from hub.agreements.model import GeneraliseRule, IdentifierType, Treatment

LINKAGE_PART_EXTRAS = {
    "forename_initial": IdentifierType.FORENAME,  # built from the normalised forename
    "birth_year": IdentifierType.DATE_OF_BIRTH,  # built from the normalised date of birth
}


def _lines(first: int, key: yaml.Node) -> str:
    again = key.start_mark.line + 1
    return f"line {first}" if again == first else f"lines {first} and {again}"


@family("duplicate-key", "no key is written twice in one mapping")
def duplicate_keys(doc: Doc) -> Iterator[Problem]:
    seen: set[int] = set()

    def walk(node: yaml.Node, loc: Loc) -> Iterator[Problem]:
        if id(node) in seen:  # an alias: walked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from walk(item, (*loc, i))
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if isinstance(name, str) and name in first:
                    yield Problem(
                        (*loc, name),
                        f"key '{name}' is written twice ({_lines(first[name], key)}); "
                        "YAML keeps only the last",
                        "remove one of them",
                    )
                elif isinstance(name, str):
                    first[name] = key.start_mark.line + 1
                yield from walk(value, (*loc, name if name is not None else "?"))

    if doc.root is not None:
        yield from walk(doc.root, ())


_RULE_NEEDS_IDENTIFIER = {
    GeneraliseRule.AGE_BAND: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.AGE: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.BIRTH_YEAR: IdentifierType.DATE_OF_BIRTH,
    GeneraliseRule.POSTCODE_DISTRICT: IdentifierType.POSTCODE,
    GeneraliseRule.LSOA: IdentifierType.POSTCODE,
}
_RULE_NEEDS_TYPE = {
    GeneraliseRule.AGE_BAND_FROM_AGE: ("integer",),
    GeneraliseRule.DATE: ("date", "datetime"),
    GeneraliseRule.WEEK: ("date", "datetime"),
    GeneraliseRule.MONTH: ("date", "datetime"),
    GeneraliseRule.HOUR: ("datetime", "time"),
}


@family("generalise-rule-mismatch", "generalise rules fit the fields they generalise")
def rule_fits(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.treatment is not Treatment.GENERALISE or f.rule is None:
            continue
        needs = _RULE_NEEDS_IDENTIFIER.get(f.rule)
        written = f.raw.get("identifier")
        if needs is not None and f.identifier is not needs and (written is None or f.identifier):
            yield Problem(
                f.loc("rule"),
                f"rule {f.rule} needs a field with identifier {needs}, and field {f.label} "
                f"is {'identifier ' + f.identifier if f.identifier else 'not an identifier'}",
                f"use a rule that fits the field, or set `identifier: {needs}` if it holds one"
                + (
                    " (an age in years takes age_band_from_age)" if needs == "date_of_birth" else ""
                ),
            )
        types_ = _RULE_NEEDS_TYPE.get(f.rule)
        if types_ is not None and f.type is not None and f.type not in types_:
            yield Problem(
                f.loc("rule"),
                f"rule {f.rule} needs a field of type {' or '.join(types_)}, "
                f"and field {f.label} is {f.type}",
                f"set `type: {types_[0]}` if that is what the field holds, or use another rule",
            )


@family("relative-to-invalid", "ages are computed at a date field that is received")
def relative_to(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.treatment is not Treatment.GENERALISE:
            continue
        if f.rule not in (GeneraliseRule.AGE, GeneraliseRule.AGE_BAND):
            continue
        target_name = f.raw.get("relative_to")
        if not isinstance(target_name, str):
            yield Problem(
                f.loc("relative_to"),
                f"field {f.label} computes an age but names no relative_to date",
                "add `relative_to:` naming the date or datetime field of the event",
            )
            continue
        target = doc.field(target_name)
        meant = closest(target_name, doc.names())
        if target is None:
            yield Problem(
                f.loc("relative_to"),
                f"relative_to names '{target_name}', which is not a field of this agreement",
                f"did you mean '{meant}'?" if meant else "name a date or datetime field",
            )
        elif target.type not in ("date", "datetime") or target.treatment is Treatment.DROP:
            what = "dropped" if target.treatment is Treatment.DROP else f"of type {target.type}"
            yield Problem(
                f.loc("relative_to"),
                f"relative_to names field '{target_name}', which is {what}, "
                "not a received date or datetime",
                "name a date or datetime field that is kept, or set that field's `type:`",
            )


@family("duplicate-field", "field names, and the partner columns they read, are unique")
def duplicate_fields(doc: Doc) -> Iterator[Problem]:
    first: dict[str, Field] = {}
    for f in doc.fields:
        if f.name is None:
            continue
        if f.name in first:
            lines = (doc.line(first[f.name].loc("name")), doc.line(f.loc("name")))
            yield Problem(
                f.loc("name"),
                f"field name '{f.name}' is used twice (lines {lines[0]} and {lines[1]})",
                "describe each column the partner sends once: rename or remove one",
            )
        else:
            first[f.name] = f
    by_column: dict[str, Field] = {}
    for f in doc.fields:
        column = as_text(f.raw.get("column")) or f.name
        if column is None:
            continue
        clash = by_column.get(column)
        if clash is not None and (f.raw.get("column") or clash.raw.get("column")):
            lines = (doc.line(clash.loc("name")), doc.line(f.loc("name")))
            yield Problem(
                f.loc("column") if f.raw.get("column") else f.loc("name"),
                f"fields {clash.label} and {f.label} both read the partner's column "
                f"'{column}' (lines {lines[0]} and {lines[1]})",
                "each field reads one column of the partner's file: fix its `column:`",
            )
        elif clash is None:
            by_column[column] = f


def _linkage_parts(doc: Doc) -> Iterator[tuple[str, Loc, object]]:
    for i, key in items(doc.raw.get("linkage_keys")):
        parts = key.get("parts")
        if isinstance(parts, list):
            name = key.get("name") if isinstance(key.get("name"), str) else f"linkage_keys[{i}]"
            for j, part in enumerate(parts):
                yield str(name), ("linkage_keys", i, "parts", j), part


@family("identifier-type-unknown", "identifier types and linkage key parts are known")
def linkage_part_types(doc: Doc) -> Iterator[Problem]:
    known = [t.value for t in IdentifierType] + list(LINKAGE_PART_EXTRAS)
    for key, loc, part in _linkage_parts(doc):
        if isinstance(part, str) and part in known:
            continue
        what = f"'{part}'" if isinstance(part, str) else "given"
        meant = closest(part, known) if isinstance(part, str) else None
        yield Problem(
            loc,
            f"linkage key '{key}' has an unknown part {what}",
            ("did you mean '" + meant + "'? " if meant else "")
            + f"parts are identifier types or derived parts: {', '.join(known)}",
        )


@family("linkage-key-incomplete", "every linkage key part comes from a received identifier")
def linkage_parts_carried(doc: Doc) -> Iterator[Problem]:
    carried = {
        f.identifier
        for f in doc.fields
        if f.identifier is not None and f.treatment is not Treatment.DROP
    }
    for key, loc, part in _linkage_parts(doc):
        if not isinstance(part, str):
            continue
        needs = LINKAGE_PART_EXTRAS.get(part) or as_enum(IdentifierType, part)
        if needs is not None and needs not in carried:
            yield Problem(
                loc,
                f"linkage key '{key}' uses {part}, but no received field carries "
                f"identifier {needs}",
                f"add the field with `identifier: {needs}` (not dropped), or remove the part",
            )


@family("age-bands-invalid", "custom age bands start at 0 and rise, on age band rules only")
def age_bands(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        bounds = f.raw.get("age_bands")
        if bounds is None or bounds == []:
            continue
        if f.rule not in (GeneraliseRule.AGE_BAND, GeneraliseRule.AGE_BAND_FROM_AGE):
            yield Problem(
                f.loc("age_bands"),
                f"field {f.label} sets age_bands but its rule is not age_band or age_band_from_age",
                "remove age_bands, or set `rule: age_band`",
            )
            continue
        raw = [as_int(b) for b in bounds] if isinstance(bounds, list) else [None]
        numbers = [n for n in raw if n is not None and n >= 0]
        if len(numbers) != len(raw):
            yield Problem(
                f.loc("age_bands"),
                f"age_bands of field {f.label} must be whole numbers of years, 0 or more",
                "list the lower bound of each band, e.g. [0, 10, 16, 18, 25, 35, 50, 65]",
            )
        elif numbers[0] != 0 or any(b <= a for a, b in pairwise(numbers)):
            yield Problem(
                f.loc("age_bands"),
                f"age_bands of field {f.label} must start at 0 and rise strictly",
                "list the lower bound of each band in order, starting with 0",
            )
