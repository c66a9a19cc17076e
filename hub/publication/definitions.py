"""Serious-violence definitions as configuration: which events count, under each partnership's
definition.

Partnerships define serious violence differently (``../shared/domain.md``): Merseyside leaves
out domestic abuse and counts assault with injury only when a knife or firearm was involved;
Cheshire includes domestic abuse and stalking; Lancashire also weights crimes by harm. So the
definitions are a file, ``contracts/definitions/serious-violence.yaml``, not code:

.. code-block:: yaml

    version: 1
    definitions:
      - id: merseyside
        title: Merseyside Violence Reduction Partnership
        include:
          - {codes: ["001/01", "004/01"], note: homicide}
          - {codes: ["008/01"], any_flag: [knife, firearm], note: assault with injury, armed}
          - {types: [ed_assault_attendance], any_flag: [knife]}
        exclude:
          - {any_flag: [domestic_abuse]}
        harm_weights: {"001/01": 5475}   # optional: a harm-weighted count (e.g. Cambridge CHI)

An event counts under a definition when an ``include`` rule matches it and no ``exclude`` rule
does. A rule matches when every condition it states holds: ``codes`` (the Home Office offence
code is one of them), ``types`` (the event type, lower case, is one of them), ``any_flag`` (at
least one of these flags is true), ``all_flags`` (every one is true), ``no_flag`` (none is true),
``roles`` (the person's role in the event is one of them), ``age_under`` (the age band lies
wholly below this age).
A flag that the source does not record (null) is not true. The release's ``event`` table gets a
boolean ``sv_<id>`` column per definition, and ``harm_<id>`` (days) for a definition with harm
weights; the manifest records the file's digest and each definition.
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.config_files import load_config
from hub.publication.events import FLAGS

DEFINITIONS_FILE = Path("definitions") / "serious-violence.yaml"  # under the contracts folder

Flag = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    codes: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    any_flag: tuple[Flag, ...] = ()
    all_flags: tuple[Flag, ...] = ()
    no_flag: tuple[Flag, ...] = ()
    roles: tuple[str, ...] = ()  # the person's role in the event (victim, suspect, patient...)
    age_under: int | None = Field(default=None, ge=1)  # age band wholly below this age
    note: str | None = None

    @model_validator(mode="after")
    def _is_a_condition(self) -> Rule:
        stated = (self.codes, self.types, self.any_flag, self.all_flags, self.no_flag, self.roles)
        if not any(stated) and self.age_under is None:
            raise ValueError(
                "a rule needs at least one of codes, types, any_flag, all_flags, no_flag, roles, "
                "age_under"
            )
        unknown = sorted(set(self.any_flag + self.all_flags + self.no_flag) - set(FLAGS))
        if unknown:
            raise ValueError(f"unknown flag {unknown[0]} (flags: {', '.join(FLAGS)})")
        return self


class Definition(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str | None = None
    include: tuple[Rule, ...] = Field(min_length=1)
    exclude: tuple[Rule, ...] = ()
    harm_weights: dict[str, float] = Field(default_factory=dict)  # offence code -> weight


class Definitions(_Strict):
    version: int = Field(ge=1)
    definitions: tuple[Definition, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Definitions:
        ids = [d.id for d in self.definitions]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"definition {repeated[0]} is defined twice")
        return self


def load_definitions(contracts_dir: Path) -> tuple[Definitions, str | None]:
    """The partnership's definitions and the file's SHA-256 (none configured: no file, None)."""
    path = contracts_dir / DEFINITIONS_FILE
    if not path.is_file():
        return Definitions(version=1), None
    return load_config(path, Definitions, documented_in="docs/definitions.md")


def _flag(events: pa.Table, name: str) -> pa.Array:
    return pc.fill_null(events.column(f"flag_{name}").combine_chunks(), False)


def matches(rule: Rule, events: pa.Table) -> pa.Array:
    """Whether each event meets every condition ``rule`` states."""
    conditions: list[pa.Array] = []
    if rule.codes:
        codes = events.column("ho_offence_code").combine_chunks()
        conditions.append(pc.fill_null(pc.is_in(codes, pa.array(rule.codes, pa.string())), False))
    if rule.types:
        types = events.column("event_type").combine_chunks()
        wanted = pa.array([t.lower() for t in rule.types], pa.string())
        conditions.append(pc.fill_null(pc.is_in(types, wanted), False))
    if rule.any_flag:
        conditions.append(reduce(pc.or_, [_flag(events, f) for f in rule.any_flag]))
    if rule.all_flags:
        conditions.append(reduce(pc.and_, [_flag(events, f) for f in rule.all_flags]))
    if rule.no_flag:
        conditions.append(pc.invert(reduce(pc.or_, [_flag(events, f) for f in rule.no_flag])))
    if rule.roles:
        roles = events.column("role").combine_chunks()
        wanted = pa.array([r.lower() for r in rule.roles], pa.string())
        conditions.append(pc.fill_null(pc.is_in(roles, wanted), False))
    if rule.age_under is not None:
        conditions.append(_age_under(events.column("age_band").combine_chunks(), rule.age_under))
    return reduce(pc.and_, conditions)


def _age_under(bands: pa.Array, age: int) -> pa.Array:
    """Whether each age band ("18-24", "65+") lies wholly below ``age`` (false when unknown)."""
    upper = pc.extract_regex(bands, pattern=r"^\d+-(?P<high>\d+)$")
    high = pc.cast(pc.struct_field(upper, "high"), pa.int64())
    return pc.fill_null(pc.less(high, age), False)


def counts_under(definition: Definition, events: pa.Table) -> pa.Array:
    """Whether each event counts under ``definition`` (never null)."""
    included = reduce(pc.or_, [matches(r, events) for r in definition.include])
    if not definition.exclude:
        return included
    excluded = reduce(pc.or_, [matches(r, events) for r in definition.exclude])
    return pc.and_(included, pc.invert(excluded))


def harm(definition: Definition, events: pa.Table, counted: pa.Array) -> pa.Array:
    """Each counted event's harm weight by its offence code (0 when counted without a weight;
    null when not counted)."""
    codes = events.column("ho_offence_code").combine_chunks()
    keys = pa.array(list(definition.harm_weights), pa.string())
    weights = pa.array(list(definition.harm_weights.values()), pa.float64())
    found = pc.take(weights, pc.index_in(codes, value_set=keys))
    weighted = pc.fill_null(found, 0.0)
    return pc.if_else(counted, weighted, pa.scalar(None, pa.float64()))


def flag_events(events: pa.Table, definitions: Definitions) -> pa.Table:
    """``events`` with ``sv_<id>`` (and ``harm_<id>``) columns for every definition."""
    for definition in definitions.definitions:
        counted = counts_under(definition, events)
        events = events.append_column(pa.field(f"sv_{definition.id}", pa.bool_()), counted)
        if definition.harm_weights:
            events = events.append_column(
                pa.field(f"harm_{definition.id}", pa.float64()), harm(definition, events, counted)
            )
    return events


def manifest_entry(definitions: Definitions, digest: str | None) -> dict[str, object]:
    """What a release's manifest records of the definitions it flagged events with."""
    return {
        "file": str(DEFINITIONS_FILE) if digest else None,
        "sha256": digest,
        "version": definitions.version,
        "definitions": [
            {
                "id": d.id,
                "title": d.title,
                "column": f"sv_{d.id}",
                "harm_weighted": bool(d.harm_weights),
            }
            for d in definitions.definitions
        ],
    }
