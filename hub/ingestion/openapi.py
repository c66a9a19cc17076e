"""The partner API's OpenAPI description, kept in the repository as ``docs/openapi.json``.

Only the ``/api/`` routes are described (the web pages are not an API). Refusals are documented
as ``application/problem+json``. ``tests/unit/test_openapi_drift.py`` fails when the file differs
from ``render()``; regenerate it with ``python -m hub.ingestion.openapi``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from fastapi.openapi.utils import get_openapi

from hub.ingestion.api import build_router
from hub.ingestion.problems import MEDIA_TYPE

DOCUMENT: Final = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TITLE: Final = "Serious Violence Duty data hub: partner API"
VERSION: Final = "1"
DESCRIPTION: Final = (
    "Partner systems upload scheduled extracts under their information-sharing agreements, "
    "then follow each extract's status and quality report. Every refusal is an RFC 9457 "
    "problem document with a stable code."
)


def schema() -> dict[str, Any]:
    """The OpenAPI document of the API routes."""
    document = get_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        routes=build_router(max_bytes=1).routes,  # the size limit is not part of the schema
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in ("4", "5") and "application/json" in content:
                    response["content"] = {MEDIA_TYPE: content.pop("application/json")}
    return document


def render() -> str:
    """``docs/openapi.json`` as it should read."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def write(path: Path = DOCUMENT) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    write()
