"""Rule families for the law: conditions for special category and criminal offence data, and
the protection each field gets (direct identifiers never staged, free text justified, every
pseudonymised or generalised field saying how).
"""

from __future__ import annotations

from collections.abc import Iterator

from hub.agreements.lint.document import Doc, filled, get
from hub.agreements.lint.family import family
from hub.agreements.lint.problem import Problem
from hub.agreements.model import Classification, GeneraliseRule, IdentifierType, Treatment


def _some(labels: list[str], shown: int = 4) -> str:
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return ", ".join(labels[:shown]) + more


@family("lawful-basis-article9", "special category fields have an Article 9 condition")
def article9(doc: Doc) -> Iterator[Problem]:
    special = [f.label for f in doc.fields if f.classification is Classification.SPECIAL_CATEGORY]
    if special and not filled(get(doc.raw, "lawful_basis", "article9")):
        yield Problem(
            ("lawful_basis", "article9"),
            f"special category data ({_some(special)}) needs an Article 9 condition, "
            "and lawful_basis has no article9",
            "add lawful_basis.article9 naming the UK GDPR Article 9(2) condition (and DPA 2018 "
            "Schedule 1 condition) relied on, or reclassify the fields if they are not health data",
        )


@family("lawful-basis-article10", "criminal offence fields have an Article 10 condition")
def article10(doc: Doc) -> Iterator[Problem]:
    criminal = [f.label for f in doc.fields if f.classification is Classification.CRIMINAL_OFFENCE]
    if criminal and not filled(get(doc.raw, "lawful_basis", "article10")):
        yield Problem(
            ("lawful_basis", "article10"),
            f"criminal offence data ({_some(criminal)}) needs an Article 10 condition, "
            "and lawful_basis has no article10",
            "add lawful_basis.article10 naming the DPA 2018 Schedule 1 condition relied on",
        )


@family("identifier-not-protected", "direct identifiers are pseudonymised or dropped")
def direct_identifiers(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.classification is not Classification.DIRECT_IDENTIFIER or f.treatment is None:
            continue
        if f.treatment not in (Treatment.PSEUDONYMISE, Treatment.DROP):
            yield Problem(
                f.loc("treatment"),
                f"field {f.label} is a direct identifier but its treatment is {f.treatment}: "
                "a direct identifier must never reach staging",
                "set `treatment: pseudonymise` with its `identifier:` type, or `treatment: drop`",
            )


@family("free-text-unjustified", "free text is dropped, or kept with a justification")
def free_text(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.classification is not Classification.FREE_TEXT:
            continue
        if f.treatment in (Treatment.KEEP, Treatment.GENERALISE) and not filled(
            f.raw.get("justification")
        ):
            yield Problem(
                f.loc("justification"),
                f"free-text field {f.label} is kept without a justification",
                "use `treatment: drop`, or add `justification:` saying why the text is needed "
                "and how identifying detail is kept out of it",
            )


@family("treatment-incomplete", "pseudonymised fields name an identifier type, generalised a rule")
def treatment_complete(doc: Doc) -> Iterator[Problem]:
    for f in doc.fields:
        if f.treatment is Treatment.PSEUDONYMISE and f.raw.get("identifier") is None:
            yield Problem(
                f.loc("identifier"),
                f"field {f.label} is pseudonymised but names no identifier type",
                f"add `identifier:` one of {', '.join(t.value for t in IdentifierType)}",
            )
        if f.treatment is Treatment.GENERALISE and f.raw.get("rule") is None:
            yield Problem(
                f.loc("rule"),
                f"field {f.label} is generalised but names no rule",
                f"add `rule:` one of {', '.join(r.value for r in GeneraliseRule)}",
            )
