"""The JSON Schema of agreement files: generated from the model, never drifting from it, and
satisfied by every contract (editors check agreements against it as they are typed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hub.agreements.schema import SCHEMA_PATH, agreement_json_schema, render_schema
from tests.conftest import CONTRACTS, FIXTURES

CONTRACT_FILES = sorted(CONTRACTS.glob("*.yaml"))
BROKEN = FIXTURES / "agreements" / "broken"


def _jsonable(value: Any) -> Any:
    """YAML reads dates as dates; JSON (and so JSON Schema) has only strings for them."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _validator() -> jsonschema.Draft202012Validator:
    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))  # JSON is YAML
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _load(path: Path) -> Any:
    return _jsonable(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_schema_file_is_up_to_date() -> None:
    assert SCHEMA_PATH == CONTRACTS / "agreement.schema.json"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "contracts/agreement.schema.json is out of date with the agreement model: "
        "run `hub agreement schema --write`"
    )


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = agreement_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("agreement.schema.json")
    assert schema["title"]
    assert schema["description"]
    assert render_schema().endswith("}\n")


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.name)
def test_every_contract_satisfies_the_schema(path: Path) -> None:
    errors = [e.message for e in _validator().iter_errors(_load(path))]
    assert errors == []


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.name)
def test_every_contract_points_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_PATH.name}"


@pytest.mark.parametrize(
    "name",
    [
        "unknown-key",
        "unknown-key-status",
        "schema-bad-format",
        "schema-missing-lead",
        "retention-missing",
        "identifier-type-unknown",
        "treatment-incomplete",  # the model's own rule, stated in the schema as if/then
    ],
)
def test_what_the_model_refuses_the_schema_refuses(name: str) -> None:
    assert list(_validator().iter_errors(_load(BROKEN / f"{name}.yaml")))


def test_generalise_needs_a_rule_in_the_schema_too() -> None:
    doc = _load(CONTRACTS / "schools.yaml")
    doc["fields"][3].pop("rule")
    assert list(_validator().iter_errors(doc))
