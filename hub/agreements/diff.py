"""What changed between two versions of an agreement, in plain words.

A data protection lead approving version N+1 reads the changes, not the whole agreement again.
``diff_agreements`` walks every top-level term of the model; terms with their own wording get it,
and anything else (a term added to the model later) is still reported, generically, so no change
goes unreported. A change is *significant* when it lets the hub receive, keep, link or release
more, or changes who signs, why, or under which law; those are what a lead must look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Final, Literal, TypeVar

from pydantic import BaseModel

from hub.agreements.model import (
    Agreement,
    CrossFieldRule,
    FieldSpec,
    LinkageKey,
    LongitudinalProject,
    OutputAccess,
    Party,
    Retention,
    Treatment,
)
from hub.agreements.plain import (
    AGE_BAND_RULES,
    CLASSIFICATION_WORDS,
    MUST_BE_WORDS,
    ROLE_WORDS,
    RULE_WORDS,
    TYPE_WORDS,
    duration,
    field_quality_words,
    hours_words,
    linkage_part_words,
    project_until,
    purpose_phrase,
    schedule_words,
    treatment_label,
    treatment_words,
)
from hub.privacy.generalise import (
    DEFAULT_AGE_BAND_LOWER_BOUNDS,
    bands_from_lower_bounds,
    bands_words,
)

Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    kind: Kind
    area: str
    text: str
    significant: bool


# The area of every top-level term of ``Agreement`` (a test checks none is missing).
AREAS: Final[dict[str, str]] = {
    "id": "agreement",
    "version": "version",
    "title": "title",
    "provider": "parties",
    "hub_controller": "parties",
    "parties": "parties",
    "purpose": "purpose",
    "lawful_basis": "lawful basis",
    "data_subjects": "data subjects",
    "valid_from": "validity",
    "valid_until": "validity",
    "review_date": "review",
    "delivery": "delivery",
    "fields": "field",
    "quality_rules": "quality",
    "linkage_keys": "linkage",
    "retention": "retention",
    "onward_sharing": "onward sharing",
    "output_access": "output access",
    "longitudinal_projects": "longitudinal projects",
    "disclosure": "disclosure",
    "publication": "publication",
    "change_note": "change note",
}

# Keyed by the field names of ``LawfulBasis``.
LAWFUL_BASIS_SHORT: Final[dict[str, str]] = {
    "article6": "Article 6 condition",
    "article9": "Article 9 condition",
    "article10": "Article 10 condition",
    "statutory_gateway": "statutory gateway",
}

_ARROW = "→"
_T = TypeVar("_T")


def fmt(value: object) -> str:
    """Any model value, short: ``None`` -> ``none``, tuples joined, enums by value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump_json(exclude_defaults=True)
    if isinstance(value, tuple | list):
        return ", ".join(fmt(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) or "none"
    return " ".join(str(value).split())


def _words(name: str) -> str:
    return name.replace("_", " ")


def _keyed(items: Iterable[_T], key: Callable[[_T], str]) -> dict[str, _T]:
    """Items by key, in order; a repeated key gets ``#2``, ``#3``... so nothing is lost."""
    found: dict[str, _T] = {}
    for item in items:
        name = key(item)
        candidate, n = name, 1
        while candidate in found:
            n += 1
            candidate = f"{name} #{n}"
        found[candidate] = item
    return found


class _Changes:
    """Collects changes for one area."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.items: list[Change] = []

    def add(self, kind: Kind, text: str, *, significant: bool) -> None:
        self.items.append(Change(kind, self.area, text, significant))

    def changed(self, text: str, *, significant: bool) -> None:
        self.add("changed", text, significant=significant)

    def optional_text(
        self, what: str, old: str | None, new: str | None, *, significant: bool
    ) -> None:
        """A free-text term that may be absent: added, removed or reworded."""
        if old == new:
            return
        if old is None and new is not None:
            self.add("added", f"{what} added: {fmt(new)}", significant=significant)
        elif new is None:
            self.add("removed", f"{what} removed (was: {fmt(old)})", significant=significant)
        else:
            self.changed(f"{what}: {fmt(old)} {_ARROW} {fmt(new)}", significant=significant)


_Differ = Callable[[Agreement, Agreement, _Changes], list[Change]]

# --- per-area differs -----------------------------------------------------------------------------


def _rule_words(spec: FieldSpec) -> str:
    return "none" if spec.rule is None else RULE_WORDS[spec.rule]


# How a change of one field attribute reads (after "field <name>: "), and whether it is significant.
_FIELD_WORDS: Final[dict[str, tuple[Callable[[FieldSpec, FieldSpec], str], bool]]] = {
    "description": (lambda a, b: "description reworded", False),
    "type": (lambda a, b: f"type {TYPE_WORDS[a.type]} {_ARROW} {TYPE_WORDS[b.type]}", False),
    "classification": (
        lambda a, b: (
            f"classification {CLASSIFICATION_WORDS[a.classification]} {_ARROW} "
            f"{CLASSIFICATION_WORDS[b.classification]}"
        ),
        True,
    ),
    "treatment": (
        lambda a, b: f"treatment {treatment_label(a)} {_ARROW} {treatment_label(b)}",
        True,
    ),
    "rule": (lambda a, b: f"generalised to {_rule_words(a)} {_ARROW} {_rule_words(b)}", True),
    "identifier": (
        lambda a, b: f"identifier type {fmt(a.identifier)} {_ARROW} {fmt(b.identifier)}",
        True,
    ),
    "relative_to": (
        lambda a, b: f"age taken at {fmt(a.relative_to)} {_ARROW} {fmt(b.relative_to)}",
        False,
    ),
    "output": (
        lambda a, b: f"staged as {fmt(a.staged_name)} {_ARROW} {fmt(b.staged_name)}",
        False,
    ),
    "required": (lambda a, b: "now required" if b.required else "no longer required", False),
}


def _bands(lower: tuple[int, ...]) -> tuple[str, tuple[int, ...] | None]:
    """Age bands in words, with the lower bounds they stand for (None when not valid)."""
    try:
        words = bands_words(bands_from_lower_bounds(lower))
    except ValueError:
        return "bands starting at " + ", ".join(str(b) for b in lower) + " (not valid)", None
    if not lower:
        return f"{words} (the hub's default)", DEFAULT_AGE_BAND_LOWER_BOUNDS
    return words, tuple(lower)


def _age_bands(old: FieldSpec, new: FieldSpec, out: _Changes) -> None:
    """New age bands are significant unless each is a union of old ones (coarser or the same):
    a bound that was not there before splits a band and shows more about a person's age."""
    if not new.age_bands and new.rule not in AGE_BAND_RULES:
        return  # the rule no longer gives an age band; its change says so
    (a, a_bounds), (b, b_bounds) = _bands(old.age_bands), _bands(new.age_bands)
    head = f"field {new.name}: age bands"
    coarser = a_bounds is not None and b_bounds is not None and set(b_bounds) <= set(a_bounds)
    same = a_bounds is not None and a_bounds == b_bounds
    out.changed(
        f"{head} {a} {_ARROW} {b}" + (" (the same bands)" if same else ""),
        significant=not coarser,
    )


def _field_attrs(old: FieldSpec, new: FieldSpec, out: _Changes, quality: _Changes) -> None:
    head = f"field {new.name}"
    for attr in FieldSpec.model_fields:
        a, b = getattr(old, attr), getattr(new, attr)
        if a == b or attr == "name":
            continue
        if old.treatment is not new.treatment and (
            attr == "rule" or (attr in {"relative_to", "output"} and b is None)
        ):
            continue  # the treatment's change names the rule; the rest follows from it
        if attr == "justification":
            out.optional_text(f"{head}: justification", a, b, significant=True)
        elif attr == "age_bands":
            _age_bands(old, new, out)
        elif attr == "quality":
            _field_quality(old, new, quality)
        elif attr in _FIELD_WORDS:
            words, significant = _FIELD_WORDS[attr]
            out.changed(f"{head}: {words(old, new)}", significant=significant)
        else:
            out.changed(f"{head}: {_words(attr)} {fmt(a)} {_ARROW} {fmt(b)}", significant=False)


def _field_quality(old: FieldSpec, new: FieldSpec, out: _Changes) -> None:
    head = f"field {new.name}"
    if old.quality is None or new.quality is None:
        words = field_quality_words(new if old.quality is None else old)
        kind: Kind = "added" if old.quality is None else "removed"
        verb = "adds quality rules" if kind == "added" else "removes quality rules"
        out.add(kind, f"{head}: {verb}" + (f" ({words})" if words else ""), significant=False)
        return
    for attr in type(new.quality).model_fields:
        a, b = getattr(old.quality, attr), getattr(new.quality, attr)
        if a != b:
            out.changed(
                f"{head}: quality {_words(attr)} {fmt(a)} {_ARROW} {fmt(b)}", significant=False
            )


def _fields(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    quality = _Changes("quality")
    before, after = _keyed(old.fields, _name), _keyed(new.fields, _name)
    for name, spec in after.items():
        if name not in before:
            out.add(
                "added",
                f"adds field {name} ({CLASSIFICATION_WORDS[spec.classification]}), "
                f"{treatment_words(spec)}",
                significant=spec.treatment is not Treatment.DROP,
            )
    for name in before:
        if name not in after:
            out.add("removed", f"removes field {name}", significant=False)
    for name, spec in after.items():
        if name in before and before[name] != spec:
            _field_attrs(before[name], spec, out, quality)
    common_before = [n for n in before if n in after]
    common_after = [n for n in after if n in before]
    if common_before != common_after:
        out.changed("fields reordered", significant=False)
    return [*out.items, *quality.items]


def _name(item: FieldSpec | CrossFieldRule | LinkageKey) -> str:
    return item.name


def _parties(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    before, after = _keyed(old.parties, _org), _keyed(new.parties, _org)
    for org, party in after.items():
        if org not in before:
            out.add(
                "added",
                f"adds party {org} ({party.name}, {ROLE_WORDS[party.role]})",
                significant=True,
            )
    for org in before:
        if org not in after:
            out.add("removed", f"removes party {org}", significant=True)
    for org, b in after.items():
        a = before.get(org)
        if a is None or a == b:
            continue
        if a.name != b.name:
            out.changed(f"party {org}: name {a.name} {_ARROW} {b.name}", significant=False)
        if a.role is not b.role:
            out.changed(
                f"party {org}: role {ROLE_WORDS[a.role]} {_ARROW} {ROLE_WORDS[b.role]}",
                significant=True,
            )
        la, lb = a.data_protection_lead, b.data_protection_lead
        lead = f"data protection lead of {org}"
        if la.name != lb.name:
            out.changed(f"{lead}: {la.name} {_ARROW} {lb.name}", significant=True)
        if la.title != lb.title:
            out.changed(f"{lead}: title {la.title} {_ARROW} {lb.title}", significant=False)
        if la.email != lb.email:
            out.changed(f"{lead}: email {la.email} {_ARROW} {lb.email}", significant=True)
    if [o for o in before if o in after] != [o for o in after if o in before]:
        out.changed("parties reordered", significant=False)
    return out.items


def _org(party: Party) -> str:
    return party.org


def _provider(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    out.changed(f"provider {old.provider} {_ARROW} {new.provider}", significant=True)
    return out.items


def _hub_controller(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    out.changed(
        f"hub controller {old.hub_controller} {_ARROW} {new.hub_controller}", significant=True
    )
    return out.items


def _lawful_basis(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    for key in type(new.lawful_basis).model_fields:
        label = LAWFUL_BASIS_SHORT.get(key, _words(key))
        a, b = getattr(old.lawful_basis, key), getattr(new.lawful_basis, key)
        out.optional_text(label, a, b, significant=True)
    return out.items


def _data_subjects(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    added = [s for s in new.data_subjects if s not in old.data_subjects]
    removed = [s for s in old.data_subjects if s not in new.data_subjects]
    if added:
        out.add("added", "adds data subjects: " + ", ".join(added), significant=True)
    if removed:
        out.add("removed", "removes data subjects: " + ", ".join(removed), significant=False)
    if not added and not removed:
        out.changed("data subjects reordered", significant=False)
    return out.items


def _dates(label: str, attr: str, *, later_is_significant: bool) -> _Differ:
    def differ(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
        a: date = getattr(old, attr)
        b: date = getattr(new, attr)
        significant = (b > a) if later_is_significant else (b < a)
        out.changed(f"{label} {a.isoformat()} {_ARROW} {b.isoformat()}", significant=significant)
        return out.items

    return differ


def _delivery(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    a, b = old.delivery, new.delivery
    for attr in type(b).model_fields:
        x, y = getattr(a, attr), getattr(b, attr)
        if x == y:
            continue
        if attr == "schedule":
            text = f"delivery schedule: {schedule_words(x)} {_ARROW} {schedule_words(y)}"
        elif attr == "late_after_hours":
            text = f"delivery late after {hours_words(x)} {_ARROW} {hours_words(y)}"
        else:
            text = f"delivery {_words(attr)} {fmt(x)} {_ARROW} {fmt(y)}"
        out.changed(text, significant=False)
    return out.items


def _quality_rules(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    before, after = _keyed(old.quality_rules, _name), _keyed(new.quality_rules, _name)
    for name, rule in after.items():
        if name not in before:
            out.add("added", f"adds quality rule {name}: {rule.description}", significant=False)
    for name in before:
        if name not in after:
            out.add("removed", f"removes quality rule {name}", significant=False)
    for name, b in after.items():
        a = before.get(name)
        if a is None or a == b:
            continue
        for attr in CrossFieldRule.model_fields:
            x, y = getattr(a, attr), getattr(b, attr)
            if x == y:
                continue
            if attr == "description":
                out.changed(f"quality rule {name}: description reworded", significant=False)
            elif attr == "must_be":
                out.changed(
                    f"quality rule {name}: must be {MUST_BE_WORDS[x]} {_ARROW} {MUST_BE_WORDS[y]}",
                    significant=False,
                )
            else:
                out.changed(
                    f"quality rule {name}: {_words(attr)} {fmt(x)} {_ARROW} {fmt(y)}",
                    significant=False,
                )
    if [n for n in before if n in after] != [n for n in after if n in before]:
        out.changed("quality rules reordered", significant=False)
    return out.items


def _parts(key: LinkageKey) -> str:
    return " + ".join(linkage_part_words(p) for p in key.parts)


def _linkage_keys(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    before, after = _keyed(old.linkage_keys, _name), _keyed(new.linkage_keys, _name)
    for name, key in after.items():
        if name not in before:
            out.add("added", f"adds linkage key {name} ({_parts(key)})", significant=True)
    for name in before:
        if name not in after:
            out.add("removed", f"removes linkage key {name}", significant=False)
    for name, b in after.items():
        a = before.get(name)
        if a is not None and a != b:
            out.changed(f"linkage key {name}: {_parts(a)} {_ARROW} {_parts(b)}", significant=True)
    if [n for n in before if n in after] != [n for n in after if n in before]:
        out.changed("linkage keys reordered", significant=False)
    return out.items


def _retention(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    for attr in Retention.model_fields:
        a: int = getattr(old.retention, attr)
        b: int = getattr(new.retention, attr)
        if a == b:
            continue
        zone = attr.removesuffix("_days")
        old_words, new_words = duration(a), duration(b)
        old_n, _, old_unit = old_words.partition(" ")
        _, _, new_unit = new_words.partition(" ")
        span = (
            f"{old_n} {_ARROW} {new_words}"
            if old_unit.rstrip("s") == new_unit.rstrip("s")
            else f"{old_words} {_ARROW} {new_words}"
        )
        out.changed(f"retention in {zone} {span}", significant=b > a)
    return out.items


def _access_label(access: OutputAccess) -> str:
    return "pseudonymised rows" if access.row_level else "aggregates only"


def _output_access(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    before, after = _keyed(old.output_access, _who), _keyed(new.output_access, _who)
    for who, access in after.items():
        if who not in before:
            out.add(
                "added",
                f"adds output access for {who} ({_access_label(access)})",
                significant=True,
            )
    for who in before:
        if who not in after:
            out.add("removed", f"removes output access for {who}", significant=False)
    for who, b in after.items():
        a = before.get(who)
        if a is None or a == b:
            continue
        for attr in OutputAccess.model_fields:
            x, y = getattr(a, attr), getattr(b, attr)
            if x == y:
                continue
            if attr == "purpose":
                out.changed(f"output access for {who}: purpose reworded", significant=True)
            elif attr == "row_level":
                out.changed(
                    f"output access for {who}: {_access_label(a)} {_ARROW} {_access_label(b)}",
                    significant=bool(y),
                )
            else:
                out.changed(
                    f"output access for {who}: {_words(attr)} {fmt(x)} {_ARROW} {fmt(y)}",
                    significant=True,
                )
    if [w for w in before if w in after] != [w for w in after if w in before]:
        out.changed("output access reordered", significant=False)
    return out.items


def _who(access: OutputAccess) -> str:
    return access.who


def _project_words(project: LongitudinalProject, agreement: Agreement) -> str:
    until = project_until(project, agreement).isoformat()
    return f"until {until}, for {purpose_phrase(project.purpose)}"


def _longitudinal_projects(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    """A project added, or one that runs longer, lets analysts follow people across more
    releases: significant. One removed or ending sooner is not."""
    before = _keyed(old.longitudinal_projects, _project_name)
    after = _keyed(new.longitudinal_projects, _project_name)
    for name, project in after.items():
        if name not in before:
            out.add(
                "added",
                f"adds longitudinal project {name}: analysts may follow the same people across "
                f"releases {_project_words(project, new)}",
                significant=True,
            )
    for name in before:
        if name not in after:
            out.add("removed", f"removes longitudinal project {name}", significant=False)
    for name, b in after.items():
        a = before.get(name)
        if a is None:
            continue
        if a.purpose != b.purpose:
            out.changed(f"longitudinal project {name}: purpose reworded", significant=True)
        x, y = project_until(a, old), project_until(b, new)
        if x != y:
            out.changed(
                f"longitudinal project {name}: until {x.isoformat()} {_ARROW} {y.isoformat()}",
                significant=y > x,
            )
        elif a.until != b.until:
            out.changed(
                f"longitudinal project {name}: end date {fmt(a.until)} {_ARROW} {fmt(b.until)} "
                f"(still {y.isoformat()})",
                significant=False,
            )
    if [n for n in before if n in after] != [n for n in after if n in before]:
        out.changed("longitudinal projects reordered", significant=False)
    return out.items


def _project_name(project: LongitudinalProject) -> str:
    return project.name


def _disclosure(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    a, b = old.disclosure, new.disclosure
    for attr in type(b).model_fields:
        x, y = getattr(a, attr), getattr(b, attr)
        if x == y:
            continue
        if attr == "suppress_at_or_below":
            text = f"disclosure: suppress counts at or below {x} {_ARROW} {y}"
        elif attr == "round_to":
            text = f"disclosure: round counts to the nearest {x} {_ARROW} {y}"
        else:
            text = f"disclosure: {_words(attr)} {fmt(x)} {_ARROW} {fmt(y)}"
        out.changed(text, significant=isinstance(x, int) and isinstance(y, int) and y < x)
    return out.items


def _publication(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    a, b = old.publication, new.publication
    for attr in type(b).model_fields:
        x, y = getattr(a, attr), getattr(b, attr)
        if x == y or attr == "flags":
            continue
        out.changed(
            f"publication: {_words(attr)} {fmt(x)} {_ARROW} {fmt(y)}", significant=x is None
        )
    for name, flag in b.flags.items():
        source = flag.field + (f" = {flag.equals}" if flag.equals is not None else "")
        if name not in a.flags:
            out.add("added", f"publication: adds flag {name} (from {source})", significant=True)
        elif a.flags[name] != flag:
            was = a.flags[name]
            was_source = was.field + (f" = {was.equals}" if was.equals is not None else "")
            out.changed(
                f"publication: flag {name} from {was_source} {_ARROW} {source}", significant=False
            )
    for name in a.flags:
        if name not in b.flags:
            out.add("removed", f"publication: removes flag {name}", significant=False)
    return out.items


def _text(label: str, attr: str, *, significant: bool, show: bool) -> _Differ:
    """A required free-text term: reworded (the new words shown when ``show``)."""

    def differ(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
        words = fmt(getattr(new, attr))
        out.changed(
            f"{label} reworded" + (f": now {words}" if show else ""), significant=significant
        )
        return out.items

    return differ


def _scalar(label: str, attr: str, *, significant: bool) -> _Differ:
    def differ(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
        out.changed(
            f"{label} {fmt(getattr(old, attr))} {_ARROW} {fmt(getattr(new, attr))}",
            significant=significant,
        )
        return out.items

    return differ


def _change_note(old: Agreement, new: Agreement, out: _Changes) -> list[Change]:
    out.optional_text("change note", old.change_note, new.change_note, significant=False)
    return out.items


_DIFFERS: Final[dict[str, _Differ]] = {
    "id": _scalar("agreement id", "id", significant=True),
    "version": _scalar("version", "version", significant=False),
    "title": _scalar("title", "title", significant=False),
    "provider": _provider,
    "hub_controller": _hub_controller,
    "parties": _parties,
    "purpose": _text("purpose", "purpose", significant=True, show=False),
    "lawful_basis": _lawful_basis,
    "data_subjects": _data_subjects,
    "valid_from": _dates("valid from", "valid_from", later_is_significant=False),
    "valid_until": _dates("valid until", "valid_until", later_is_significant=True),
    "review_date": _dates("review date", "review_date", later_is_significant=True),
    "delivery": _delivery,
    "fields": _fields,
    "quality_rules": _quality_rules,
    "linkage_keys": _linkage_keys,
    "retention": _retention,
    "onward_sharing": _text("onward sharing", "onward_sharing", significant=True, show=True),
    "output_access": _output_access,
    "longitudinal_projects": _longitudinal_projects,
    "disclosure": _disclosure,
    "publication": _publication,
    "change_note": _change_note,
}


def diff_agreements(old: Agreement, new: Agreement) -> tuple[Change, ...]:
    """Every difference between two versions, in the order of the agreement's terms."""
    changes: list[Change] = []
    for attr in Agreement.model_fields:
        a, b = getattr(old, attr), getattr(new, attr)
        if a == b:
            continue
        area = AREAS.get(attr, _words(attr))
        differ = _DIFFERS.get(attr)
        found = differ(old, new, _Changes(area)) if differ is not None else []
        if not found:  # a term without its own wording, or a difference the wording missed
            found = [Change("changed", area, f"{_words(attr)}: {fmt(a)} {_ARROW} {fmt(b)}", True)]
        changes.extend(found)
    return tuple(changes)


def _listed(texts: list[str]) -> str:
    return "; ".join(t.rstrip(".") for t in texts) + "."


def summarise(changes: tuple[Change, ...] | list[Change]) -> str:
    """The changes as one paragraph, significant ones first."""
    if not changes:
        return "No changes to the terms."
    significant = [c.text for c in changes if c.significant]
    other = [c.text for c in changes if not c.significant]
    count = len(changes)
    parts = [
        f"This version makes {count} change{'' if count == 1 else 's'}, "
        f"{len(significant) or 'none'} of them significant."
    ]
    if significant:
        parts.append("Significant: " + _listed(significant))
    if other:
        parts.append(("Other changes: " if significant else "Changes: ") + _listed(other))
    return " ".join(parts)
