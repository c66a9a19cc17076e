"""The ODCS v3 export: every agreement becomes a data contract that the standard's own model and
JSON Schema accept, and that still carries every field and the governance terms."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import ValidationError

from hub.agreements import Agreement, Status, load_agreements
from hub.agreements import odcs as odcs_module
from hub.agreements.odcs import ODCS_API_VERSION, STATUS_TO_ODCS, to_odcs, to_odcs_yaml
from tests.conftest import CONTRACTS

AGREEMENTS = load_agreements(CONTRACTS)
ODCS_SCHEMA = json.loads(
    resources.files("open_data_contract_standard").joinpath("schema.json").read_text("utf-8")
)
SIGNATURES = [
    {"org": "merseyvale-police", "signer_email": "dpo@merseyvale-police.example"},
    {"org": "merseyvale-vrp", "signer_email": "ig@merseyvale-vrp.example"},
]


def export(agreement: Agreement, **options: Any) -> dict[str, Any]:
    return to_odcs(agreement, **options)


def _validate(doc: dict[str, Any]) -> None:
    """Both the package's pydantic model and the ODCS JSON Schema it ships must accept it."""
    OpenDataContractStandard.model_validate(doc)
    errors = sorted(
        jsonschema.Draft201909Validator(ODCS_SCHEMA).iter_errors(doc), key=lambda e: e.path
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def _custom(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["property"]: item["value"] for item in items}


def _only_schema_object(doc: dict[str, Any]) -> dict[str, Any]:
    (obj,) = doc["schema"]
    assert isinstance(obj, dict)
    return obj


def test_the_contracts_folder_has_agreements() -> None:
    assert len(AGREEMENTS) >= 5


@pytest.mark.parametrize("agreement_id", sorted(AGREEMENTS))
def test_every_agreement_exports_to_valid_odcs(agreement_id: str) -> None:
    agreement = AGREEMENTS[agreement_id]
    doc = export(agreement, status="approved", signatures=SIGNATURES)
    _validate(doc)
    assert doc["apiVersion"] == ODCS_API_VERSION
    assert doc["kind"] == "DataContract"
    assert doc["id"] == agreement.id
    assert doc["version"] == f"{agreement.version}.0.0"
    assert doc["name"] == agreement.title
    assert doc["status"] == "active"


@pytest.mark.parametrize("agreement_id", sorted(AGREEMENTS))
def test_every_field_is_a_property_with_its_terms(agreement_id: str) -> None:
    agreement = AGREEMENTS[agreement_id]
    obj = _only_schema_object(export(agreement))
    assert obj["name"] == agreement.id
    props = {p["name"]: p for p in obj["properties"]}
    assert list(props) == list(agreement.received_fields)
    for spec in agreement.fields:
        prop = props[spec.name]
        assert prop["description"] == spec.description
        assert prop["required"] is spec.required
        assert prop["classification"] == spec.classification.value
        assert prop["logicalType"] == odcs_module.LOGICAL_TYPES[spec.type]
        custom = _custom(prop["customProperties"])
        assert custom["treatment"] == spec.treatment.value
        assert custom["hubType"] == spec.type
        assert custom.get("identifierType") == (spec.identifier and spec.identifier.value)
        assert custom.get("generaliseRule") == (spec.rule and spec.rule.value)
        assert custom.get("outputColumn") == spec.staged_name


@pytest.mark.parametrize("agreement_id", sorted(AGREEMENTS))
def test_governance_terms_are_custom_properties(agreement_id: str) -> None:
    agreement = AGREEMENTS[agreement_id]
    custom = _custom(export(agreement, signatures=SIGNATURES)["customProperties"])
    basis = agreement.lawful_basis
    assert custom["lawfulBasis"]["article6"] == basis.article6
    assert custom["lawfulBasis"].get("article9") == basis.article9
    assert custom["lawfulBasis"].get("article10") == basis.article10
    assert custom["statutoryGateway"] == basis.statutory_gateway
    assert custom["dataSubjects"] == list(agreement.data_subjects)
    assert custom["retention"] == {
        "landingDays": agreement.retention.landing_days,
        "stagingDays": agreement.retention.staging_days,
        "linkageDays": agreement.retention.linkage_days,
        "publishedDays": agreement.retention.published_days,
    }
    assert custom["disclosureControl"] == {
        "suppressAtOrBelow": agreement.disclosure.suppress_at_or_below,
        "roundTo": agreement.disclosure.round_to,
    }
    assert custom["onwardSharing"] == agreement.onward_sharing
    assert [a["who"] for a in custom["outputAccess"]] == [a.who for a in agreement.output_access]
    assert custom["validFrom"] == agreement.valid_from.isoformat()
    assert custom["validUntil"] == agreement.valid_until.isoformat()
    assert custom["reviewDate"] == agreement.review_date.isoformat()
    assert custom["signingOrganisations"] == list(agreement.signing_orgs)
    assert custom["signatures"] == SIGNATURES
    assert "hubStatus" not in custom


def test_parties_and_their_leads_are_the_team() -> None:
    agreement = AGREEMENTS["ed-assaults"]
    doc = export(agreement)
    members = doc["team"]["members"]
    assert [m["username"] for m in members] == [
        p.data_protection_lead.email for p in agreement.parties
    ]
    assert [_custom(m["customProperties"])["partyRole"] for m in members] == [
        p.role.value for p in agreement.parties
    ]
    (role,) = doc["roles"]
    assert role["access"] == "read"
    assert role["firstLevelApprovers"] == "Dr Helen Okafor"


def test_delivery_becomes_service_levels() -> None:
    agreement = AGREEMENTS["ed-assaults"]
    sla = {p["property"]: p for p in export(agreement)["slaProperties"]}
    assert sla["frequency"]["schedule"] == agreement.delivery.schedule
    assert sla["frequency"]["scheduler"] == "cron"
    assert sla["latency"] == {
        "property": "latency",
        "value": 72,
        "unit": "h",
        "element": "ed-assaults",
        "description": "An extract is late this many hours after it was expected.",
    }
    assert sla["generalAvailability"]["value"] == "2025-04-01"
    assert sla["endOfLife"]["value"] == "2027-03-31"


def test_quality_rules_keep_their_severity() -> None:
    obj = _only_schema_object(export(AGREEMENTS["ed-assaults"]))
    rules = {r["name"]: r for r in obj["quality"]}
    assert rules["period_in_order"]["severity"] == "error"
    assert rules["assault_before_arrival"]["severity"] == "warning"
    check = _custom(rules["period_in_order"]["customProperties"])["hubCheck"]
    assert check["failsWhen"] == "period_end < period_start"

    police = _only_schema_object(export(AGREEMENTS["police-sv"]))
    involvement = next(p for p in police["properties"] if p["name"] == "involvement")
    (allowed,) = involvement["quality"]
    assert allowed["type"] == "library"
    assert allowed["metric"] == "invalidValues"
    assert allowed["arguments"] == {"validValues": ["Victim", "Suspect"]}
    assert allowed["mustBe"] == 0
    assert allowed["severity"] == "error"


def test_every_kind_of_field_quality_maps_to_valid_odcs() -> None:
    terms = AGREEMENTS["schools"].model_dump()
    extra: dict[str, dict[str, Any]] = {
        "sessions": {"quality": {"minimum": 0, "maximum": 20, "unique": True}},
        "school_urn": {
            "quality": {"pattern": "[0-9]{6}", "severity": "critical"},
            "justification": "tells schools apart",
        },
        "event_date": {"formats": ["%d/%m/%Y"], "quality": {"not_in_future": True}},
    }
    for spec in terms["fields"]:
        spec.update(extra.get(spec["name"], {}))
    agreement = Agreement.model_validate(terms)
    doc = export(agreement)
    _validate(doc)
    props = {p["name"]: p for p in _only_schema_object(doc)["properties"]}
    metrics = {
        (r.get("metric") or _custom(r["customProperties"])["hubCheck"]["check"])
        for p in props.values()
        for r in p.get("quality", [])
    }
    assert metrics == {"invalidValues", "duplicateValues", "range", "not_in_future"}
    sessions = props["sessions"]
    assert sessions["unique"] is True
    assert sessions["logicalTypeOptions"] == {"minimum": 0, "maximum": 20}
    assert (
        _custom(props["school_urn"]["customProperties"])["justification"] == "tells schools apart"
    )
    assert _custom(props["event_date"]["customProperties"])["acceptedFormats"] == ["%d/%m/%Y"]


@pytest.mark.parametrize("status", list(Status))
def test_lifecycle_status_maps_to_an_odcs_status(status: Status) -> None:
    doc = export(AGREEMENTS["police-sv"], status=status.value)
    _validate(doc)
    assert doc["status"] == STATUS_TO_ODCS[status]
    assert doc["status"] in {"proposed", "draft", "active", "deprecated", "retired"}
    assert _custom(doc["customProperties"])["hubStatus"] == status.value


def test_without_a_status_none_is_claimed() -> None:
    assert "status" not in export(AGREEMENTS["police-sv"])


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="pending"):
        export(AGREEMENTS["police-sv"], status="pending")


@pytest.mark.parametrize("agreement_id", sorted(AGREEMENTS))
def test_the_yaml_form_reparses_and_validates(agreement_id: str) -> None:
    agreement = AGREEMENTS[agreement_id]
    text = to_odcs_yaml(agreement, status="awaiting_approval", signatures=SIGNATURES)
    assert text.startswith("apiVersion: ")
    parsed = yaml.safe_load(text)
    assert parsed == export(agreement, status="awaiting_approval", signatures=SIGNATURES)
    _validate(parsed)
    model = OpenDataContractStandard.from_string(text)
    assert model.id == agreement.id
    assert model.status == "proposed"
    assert model.schema_ is not None
    (obj,) = model.schema_
    assert [p.name for p in obj.properties or []] == list(agreement.received_fields)


def test_validation_is_real_a_corrupted_document_is_refused() -> None:
    doc = export(AGREEMENTS["police-sv"])
    with pytest.raises(ValidationError):
        OpenDataContractStandard.model_validate({**doc, "lawfulBasis": "6(1)(e)"})
    with pytest.raises(ValidationError):
        OpenDataContractStandard.model_validate({**doc, "schema": "not a list"})
    broken = {**doc, "kind": "Agreement"}
    OpenDataContractStandard.model_validate(broken)  # the model does not check enums...
    with pytest.raises(jsonschema.ValidationError):  # ...the standard's JSON Schema does
        jsonschema.validate(broken, ODCS_SCHEMA, cls=jsonschema.Draft201909Validator)


def test_an_invalid_export_is_a_plain_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(odcs_module, "_sla", lambda agreement: "not a list")
    with pytest.raises(ValueError, match=r"ODCS export of police-sv is invalid at slaProperties"):
        export(AGREEMENTS["police-sv"])


def test_age_bands_and_longitudinal_projects_are_carried() -> None:
    youth = AGREEMENTS["youth-justice"]
    custom = _custom(export(youth)["customProperties"])
    assert custom["longitudinalProjects"] == [
        {
            "name": "youth-violence-cohort",
            "purpose": youth.longitudinal_projects[0].purpose,
            "until": "2026-12-31",
        }
    ]
    assert "longitudinalProjects" not in _custom(
        export(AGREEMENTS["police-sv"])["customProperties"]
    )
    terms = AGREEMENTS["police-sv"].model_dump()
    for spec in terms["fields"]:
        if spec["name"] == "date_of_birth":
            spec["age_bands"] = [0, 18, 25]
    terms["longitudinal_projects"] = [{"name": "repeat-victims", "purpose": "Repeat victims"}]
    doc = export(Agreement.model_validate(terms))
    _validate(doc)
    props = {
        p["name"]: _custom(p["customProperties"]) for p in _only_schema_object(doc)["properties"]
    }
    assert props["date_of_birth"]["ageBandLowerBounds"] == [0, 18, 25]
    assert "ageBandLowerBounds" not in props["sex"]
    (project,) = _custom(doc["customProperties"])["longitudinalProjects"]
    assert project == {"name": "repeat-victims", "purpose": "Repeat victims", "until": "2027-03-31"}
