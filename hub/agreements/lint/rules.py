"""Every rule family, in the order they are reported, and ``RULES`` (each code with its meaning).

The first four families find nothing themselves: their findings come from parsing
(``parsing``) and the model's validation (``schema_errors``). They are listed so a clean file
shows them as passed. The rest live in the ``rules_*`` modules, grouped by concern; this list
alone decides the order, so adding a family means adding it here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hub.agreements.lint import rules_fields, rules_law, rules_outputs, rules_quality, rules_terms
from hub.agreements.lint.document import Doc
from hub.agreements.lint.family import Family
from hub.agreements.lint.problem import Problem


def _nothing(_doc: Doc) -> Iterator[Problem]:
    yield from ()


FAMILIES: tuple[Family, ...] = (
    # Findings from parsing and the model's validation, not from a function of their own.
    Family("yaml", "the file is valid YAML", _nothing),
    Family("schema", "every key has a value of the right kind", _nothing),
    Family("unknown-key", "every key is one the agreement model knows", _nothing),
    Family("retention-missing", "retention is set for every zone", _nothing),
    rules_fields.duplicate_keys,
    rules_law.article9,
    rules_law.article10,
    rules_law.direct_identifiers,
    rules_law.free_text,
    rules_law.treatment_complete,
    rules_fields.rule_fits,
    rules_fields.relative_to,
    rules_fields.duplicate_fields,
    rules_fields.linkage_part_types,
    rules_fields.linkage_parts_carried,
    rules_fields.age_bands,
    rules_terms.roles_are_parties,
    rules_terms.duplicate_parties,
    rules_terms.validity_window,
    rules_terms.review_date,
    rules_terms.landing_retention,
    rules_terms.schedule,
    rules_terms.timezone,
    rules_terms.longitudinal_projects,
    rules_outputs.disclosure_strict,
    rules_outputs.disclosure_rounding,
    rules_outputs.publication_columns,
    rules_quality.quality_patterns,
    rules_quality.quality_on_kept,
    rules_quality.cross_field_rules,
    rules_outputs.output_access_named,
    rules_outputs.output_access_aggregates,
)

RULES: Mapping[str, str] = {family.rule: family.meaning for family in FAMILIES}
"""Every rule code, with what it means when it passes, in the order they are reported."""
