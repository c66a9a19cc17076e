"""docs/openapi.json is the partner API's description as the code serves it.

When this fails, regenerate the file with ``python -m hub.ingestion.openapi`` (through
``uv run``) and commit it with the change.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub.ingestion.openapi import render

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_openapi_document_matches_the_code() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json drifted from the API; regenerate it: "
        "python3 -m uv run --locked --no-sync python -m hub.ingestion.openapi"
    )


def test_only_api_routes_are_described_and_refusals_are_problem_documents() -> None:
    document = json.loads(render())
    assert document["paths"], "no API routes described"
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    for path in document["paths"].values():
        for operation in path.values():
            assert operation["security"] == [{"HTTPBearer": []}]
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"]
