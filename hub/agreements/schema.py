"""The JSON Schema of an agreement file, generated from the model.

Editors with YAML language support read ``contracts/agreement.schema.json`` (each contract's
first line points at it) and check agreements as they are typed. The file is generated, never
edited: ``hub agreement schema --write`` rewrites it, and a test fails when it drifts from the
model. The schema says what each key accepts; ``hub agreement lint`` checks the rest (lawful
basis for special category data, disclosure no looser than the hub's, references that resolve).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hub.agreements.model import Agreement

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "contracts" / "agreement.schema.json"
SCHEMA_ID = "https://svd-hub.example/schemas/agreement.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# The model's own rules that a JSON Schema can state (FieldSpec._treatment_is_complete).
_TREATMENT_NEEDS = (
    {
        "if": {"properties": {"treatment": {"const": "pseudonymise"}}, "required": ["treatment"]},
        "then": {"required": ["identifier"]},
    },
    {
        "if": {"properties": {"treatment": {"const": "generalise"}}, "required": ["treatment"]},
        "then": {"required": ["rule"]},
    },
)


def agreement_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) an agreement file must satisfy."""
    schema = Agreement.model_json_schema()
    schema["$defs"]["FieldSpec"]["allOf"] = copy.deepcopy(list(_TREATMENT_NEEDS))
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        **schema,
        "title": "Information-sharing agreement",
        "description": (
            "One version of an information-sharing agreement between partners of a Serious "
            "Violence Duty partnership and the hub: the parties, lawful basis, every data item "
            "and what the hub does to it, delivery, quality, retention, who may use the outputs "
            "and disclosure control. Generated from hub.agreements.model.Agreement; "
            "`hub agreement lint` checks what a schema cannot."
        ),
    }


def render_schema() -> str:
    """The schema file's exact text: JSON, indent 2, sorted keys, a trailing newline."""
    return json.dumps(agreement_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> bool:
    """Write the schema file; True when its content changed."""
    text = render_schema()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
