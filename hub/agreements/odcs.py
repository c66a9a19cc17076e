"""Export an agreement as an Open Data Contract Standard (ODCS v3) data contract.

ODCS describes a dataset: its schema, quality rules, service levels and the people behind it. The
export carries the dataset part of an agreement in ODCS's own terms (one schema object for the
extract the partner delivers, one property per field) and keeps the governance terms ODCS has no
place for (lawful basis, retention per zone, disclosure control, ...) as top-level
``customProperties``, so nothing a tool needs to honour the agreement is lost.

Mappings chosen here:

* ``version`` is ``"<agreement version>.0.0"``; ``apiVersion`` is ``ODCS_API_VERSION``.
* Lifecycle status -> ODCS status (``STATUS_TO_ODCS``): draft -> draft, awaiting approval ->
  proposed, approved -> active, suspended -> deprecated (in force on paper, but no extract is
  accepted), revoked and superseded -> retired, altered (the file differs from the version
  submitted) -> draft, since what it says is not what was signed. The hub's own status is kept
  as the custom property ``hubStatus``, so a suspension can be told from a deprecation. Without
  a status the export claims none.
* Age bands: a field's own bands (``age_bands``, their lower bounds) are the property's
  ``ageBandLowerBounds``; absent means the partnership's default bands.
* Longitudinal projects (``longitudinalProjects``): name, purpose and the last day the project
  may follow people (its ``until``, never later than the agreement's ``validUntil``).
* Field types -> ODCS logical types (``LOGICAL_TYPES``): flag and boolean -> boolean, datetime ->
  timestamp, time -> time; the hub's type is kept as the property's ``hubType``.
* Quality: allowed values and patterns -> the ``invalidValues`` library metric, unique ->
  ``duplicateValues``; ranges, "not in the future" and cross-field rules have no ODCS metric and
  become ``text`` rules with the machine-readable rule in their ``hubCheck`` custom property.
  Severity critical (quarantine the extract) -> ``error``, warning (pass with a note) ->
  ``warning``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import ValidationError

from hub.agreements.canonical import terms_digest
from hub.agreements.model import (
    Agreement,
    CrossFieldRule,
    FieldQuality,
    FieldSpec,
    FieldType,
    Severity,
    Status,
)
from hub.agreements.plain import project_until

ODCS_API_VERSION = "v3.2.0"  # the newest the installed open-data-contract-standard knows

STATUS_TO_ODCS: dict[Status, str] = {
    Status.DRAFT: "draft",
    Status.AWAITING_APPROVAL: "proposed",
    Status.APPROVED: "active",
    Status.SUSPENDED: "deprecated",
    Status.REVOKED: "retired",
    Status.SUPERSEDED: "retired",
    Status.ALTERED: "draft",  # the file is not what was signed: unapproved terms
}

LOGICAL_TYPES: dict[FieldType, str] = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "flag": "boolean",
    "date": "date",
    "datetime": "timestamp",
    "time": "time",
}

_SEVERITY = {Severity.CRITICAL: "error", Severity.WARNING: "warning"}
_ON_FAILURE = {Severity.CRITICAL: "quarantine the extract", Severity.WARNING: "pass with a note"}

# A row fails a cross-field rule when this comparison of field to other holds.
_VIOLATION = {"on_or_before": ">", "on_or_after": "<", "before": ">=", "after": "<="}

_Doc = dict[str, Any]


def _props(pairs: Mapping[str, object]) -> list[_Doc]:
    """ODCS custom properties from name -> value, leaving out values that are not set."""
    return [{"property": k, "value": v} for k, v in pairs.items() if v is not None]


def _rule(name: str, severity: Severity, dimension: str, description: str, **rest: object) -> _Doc:
    rule: _Doc = {
        "name": name,
        "description": description,
        "dimension": dimension,
        "severity": _SEVERITY[severity],
    }
    rule.update(rest)
    rule.setdefault("customProperties", []).append(
        {"property": "onFailure", "value": _ON_FAILURE[severity]}
    )
    return rule


def _field_quality(spec: FieldSpec, q: FieldQuality) -> list[_Doc]:
    rules: list[_Doc] = []
    if q.allowed_values:
        rules.append(
            _rule(
                f"{spec.name}_allowed_values",
                q.severity,
                "conformity",
                f"{spec.name} is one of the agreed values",
                type="library",
                metric="invalidValues",
                arguments={"validValues": list(q.allowed_values)},
                mustBe=0,
            )
        )
    if q.pattern is not None:
        rules.append(
            _rule(
                f"{spec.name}_pattern",
                q.severity,
                "conformity",
                f"{spec.name} matches the agreed pattern in full",
                type="library",
                metric="invalidValues",
                arguments={"pattern": q.pattern},
                mustBe=0,
            )
        )
    if q.unique:
        rules.append(
            _rule(
                f"{spec.name}_unique",
                q.severity,
                "uniqueness",
                f"no two rows share a {spec.name}",
                type="library",
                metric="duplicateValues",
                mustBe=0,
            )
        )
    if q.minimum is not None or q.maximum is not None:
        bounds = {
            k: v for k, v in (("minimum", q.minimum), ("maximum", q.maximum)) if v is not None
        }
        said = ", ".join(f"{k} {v:g}" for k, v in bounds.items())
        rules.append(
            _rule(
                f"{spec.name}_range",
                q.severity,
                "accuracy",
                f"{spec.name} is within its agreed range ({said})",
                type="text",
                customProperties=_props({"hubCheck": {"check": "range", **bounds}}),
            )
        )
    if q.not_in_future:
        rules.append(
            _rule(
                f"{spec.name}_not_in_future",
                q.severity,
                "accuracy",
                f"{spec.name} is not after the day the extract arrives",
                type="text",
                customProperties=_props({"hubCheck": {"check": "not_in_future"}}),
            )
        )
    return rules


def _cross_field(rule: CrossFieldRule) -> _Doc:
    return _rule(
        rule.name,
        rule.severity,
        "consistency",
        rule.description,
        type="text",
        customProperties=_props(
            {
                "hubCheck": {
                    "check": "cross_field",
                    "field": rule.field,
                    "mustBe": rule.must_be,
                    "other": rule.other,
                    "failsWhen": f"{rule.field} {_VIOLATION[rule.must_be]} {rule.other}",
                }
            }
        ),
    )


def _property(spec: FieldSpec) -> _Doc:
    prop: _Doc = {
        "name": spec.name,
        "logicalType": LOGICAL_TYPES[spec.type],
        "description": spec.description,
        "required": spec.required,
        "classification": spec.classification.value,
    }
    q = spec.quality
    if q is not None and q.unique:
        prop["unique"] = True
    if spec.type == "integer" and q is not None:
        options = {"minimum": q.minimum, "maximum": q.maximum}
        if any(v is not None for v in options.values()):
            prop["logicalTypeOptions"] = {k: v for k, v in options.items() if v is not None}
    prop["customProperties"] = _props(
        {
            "hubType": spec.type,
            "treatment": spec.treatment.value,
            "identifierType": spec.identifier.value if spec.identifier else None,
            "generaliseRule": spec.rule.value if spec.rule else None,
            "relativeTo": spec.relative_to,
            "outputColumn": spec.staged_name,
            "acceptedFormats": list(spec.formats) or None,
            "ageBandLowerBounds": list(spec.age_bands) or None,
            "justification": spec.justification,
        }
    )
    if q is not None:
        rules = _field_quality(spec, q)
        if rules:
            prop["quality"] = rules
    return prop


def _schema_object(agreement: Agreement) -> _Doc:
    provider = agreement.party(agreement.provider)
    delivery = agreement.delivery
    obj: _Doc = {
        "name": agreement.id,
        "physicalType": "file",
        "logicalType": "object",
        "description": (
            f"The extract {provider.name} delivers to the hub as {delivery.format}, one row per "
            "record, with these columns in this order."
        ),
        "properties": [_property(spec) for spec in agreement.fields],
        "customProperties": _props(
            {
                "deliveryFormat": delivery.format,
                "dateFormat": delivery.date_format,
                "linkageKeys": [
                    {"name": key.name, "parts": list(key.parts)} for key in agreement.linkage_keys
                ]
                or None,
            }
        ),
    }
    if agreement.quality_rules:
        obj["quality"] = [_cross_field(rule) for rule in agreement.quality_rules]
    return obj


def _sla(agreement: Agreement) -> list[_Doc]:
    delivery = agreement.delivery
    return [
        {
            "property": "frequency",
            "value": delivery.schedule,
            "scheduler": "cron",
            "schedule": delivery.schedule,
            "element": agreement.id,
            "description": f"Each extract is expected by this schedule ({delivery.timezone}).",
            "customProperties": _props({"timezone": delivery.timezone}),
        },
        {
            "property": "latency",
            "value": delivery.late_after_hours,
            "unit": "h",
            "element": agreement.id,
            "description": "An extract is late this many hours after it was expected.",
        },
        {"property": "generalAvailability", "value": agreement.valid_from.isoformat()},
        {"property": "endOfLife", "value": agreement.valid_until.isoformat()},
    ]


def _team(agreement: Agreement) -> _Doc:
    members: list[_Doc] = []
    for party in agreement.parties:
        lead = party.data_protection_lead
        members.append(
            {
                "username": lead.email,
                "name": lead.name,
                "role": lead.title,
                "description": (
                    f"Data protection lead of {party.name}, {party.role.value.replace('_', ' ')}"
                ),
                "customProperties": _props(
                    {
                        "org": party.org,
                        "partyRole": party.role.value,
                        "signs": party.org in agreement.signing_orgs,
                    }
                ),
            }
        )
    return {
        "name": f"Parties to {agreement.id}",
        "description": "The parties to the agreement, each by its data protection lead.",
        "members": members,
    }


def _roles(agreement: Agreement) -> list[_Doc]:
    """Who may use the outputs, each approved by the signing leads (provider's first)."""
    leads = [agreement.party(org).data_protection_lead.name for org in agreement.signing_orgs]
    return [
        {
            k: v
            for k, v in {
                "role": access.who,
                "description": access.purpose,
                "access": "read",
                "firstLevelApprovers": leads[0],
                "secondLevelApprovers": ", ".join(leads[1:]) or None,
                "customProperties": _props({"rowLevel": access.row_level}),
            }.items()
            if v is not None
        }
        for access in agreement.output_access
    ]


def _governance(
    agreement: Agreement, status: Status | None, signatures: Sequence[Mapping[str, str]]
) -> list[_Doc]:
    basis = agreement.lawful_basis
    return _props(
        {
            "hubStatus": status.value if status else None,
            "termsDigest": terms_digest(agreement),
            "provider": agreement.provider,
            "hubController": agreement.hub_controller,
            "lawfulBasis": {
                k: v
                for k, v in (
                    ("article6", basis.article6),
                    ("article9", basis.article9),
                    ("article10", basis.article10),
                )
                if v is not None
            },
            "statutoryGateway": basis.statutory_gateway,
            "dataSubjects": list(agreement.data_subjects),
            "retention": {
                "landingDays": agreement.retention.landing_days,
                "stagingDays": agreement.retention.staging_days,
                "linkageDays": agreement.retention.linkage_days,
                "publishedDays": agreement.retention.published_days,
            },
            "onwardSharing": agreement.onward_sharing,
            "outputAccess": [
                {"who": a.who, "purpose": a.purpose, "rowLevel": a.row_level}
                for a in agreement.output_access
            ],
            "longitudinalProjects": [
                {
                    "name": p.name,
                    "purpose": p.purpose,
                    "until": project_until(p, agreement).isoformat(),
                }
                for p in agreement.longitudinal_projects
            ]
            or None,
            "disclosureControl": {
                "suppressAtOrBelow": agreement.disclosure.suppress_at_or_below,
                "roundTo": agreement.disclosure.round_to,
            },
            "validFrom": agreement.valid_from.isoformat(),
            "validUntil": agreement.valid_until.isoformat(),
            "reviewDate": agreement.review_date.isoformat(),
            "signingOrganisations": list(agreement.signing_orgs),
            "signatures": [dict(s) for s in signatures] or None,
            "changeNote": agreement.change_note,
        }
    )


def to_odcs(
    agreement: Agreement,
    *,
    status: str | None = None,
    signatures: Sequence[Mapping[str, str]] = (),
) -> dict[str, object]:
    """The agreement's dataset as an ODCS v3 data contract (plain YAML/JSON values).

    ``status`` is the lifecycle status the store holds for this version (a ``Status`` value);
    ``signatures`` are copied as given into the ``signatures`` custom property.
    """
    lifecycle = Status(status) if status is not None else None  # ValueError names a bad one
    doc: _Doc = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": agreement.id,
        "name": agreement.title,
        "version": f"{agreement.version}.0.0",
    }
    if lifecycle is not None:
        doc["status"] = STATUS_TO_ODCS[lifecycle]
    doc["tags"] = ["information-sharing-agreement", "serious-violence-duty"]
    doc["description"] = {
        "purpose": agreement.purpose,
        "usage": "; ".join(f"{a.who}: {a.purpose}" for a in agreement.output_access),
        "limitations": (
            f"Onward sharing: {agreement.onward_sharing.rstrip('.')}. Aggregates suppress "
            f"counts of {agreement.disclosure.suppress_at_or_below} or fewer and round the rest "
            f"to the nearest {agreement.disclosure.round_to}."
        ),
    }
    doc["schema"] = [_schema_object(agreement)]
    doc["slaProperties"] = _sla(agreement)
    doc["team"] = _team(agreement)
    doc["roles"] = _roles(agreement)
    doc["customProperties"] = _governance(agreement, lifecycle, signatures)
    try:
        OpenDataContractStandard.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(
            f"ODCS export of {agreement.id} is invalid at {where}: {first['msg']}"
        ) from exc
    return doc


def to_odcs_yaml(
    agreement: Agreement,
    *,
    status: str | None = None,
    signatures: Sequence[Mapping[str, str]] = (),
) -> str:
    """``to_odcs`` as a YAML document, keys in ODCS's reading order."""
    doc = to_odcs(agreement, status=status, signatures=signatures)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
