"""GX Data Docs of one extract's validation, as a static site in a folder the caller names.

The site is rendered by GX from the scrubbed result (``QualityOutcome.result``) and the suite,
never from the data, so it can only show what the result holds: counts, percentages and row
numbers. For failed expectations GX's table of failing rows is fed the first row numbers under a
constant placeholder ("value withheld") in place of the values. The site is written into a
temporary folder beside ``out_dir`` and renamed into place, so readers see the previous complete
site or the new one. Every page gets ``<meta name="referrer" content="no-referrer">``: GX's pages
load styles and scripts from public CDNs, which must not learn the page's address.
"""

from __future__ import annotations

import copy
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.errors import InfrastructureError, IntegrityError
from hub.quality.engine import ephemeral_context
from hub.quality.rules import RECORD
from hub.quality.scrub import verify_scrubbed

SITE = "hub"
WITHHELD = "(value withheld)"
_NO_REFERRER = '<meta name="referrer" content="no-referrer">'


def _for_rendering(result: dict[str, Any]) -> dict[str, Any]:
    """The result with what GX's renderer needs: placeholders where it expects values (it
    draws the failing rows from ``unexpected_index_list`` and ``partial_unexpected_counts``, and
    fails on an exception without a traceback)."""
    shown = copy.deepcopy(result)
    for entry in shown.get("results", []):
        info = entry.get("exception_info") or {}
        if info.get("raised_exception"):
            info["exception_traceback"] = "(not recorded: a traceback may quote data)"
        found = entry.get("result") or {}
        rows = [r[RECORD] for r in found.get("partial_unexpected_index_list") or []]
        if entry.get("success") is False and rows:
            found["unexpected_index_list"] = [{"value": WITHHELD, RECORD: r} for r in rows]
            found["partial_unexpected_counts"] = [{"value": WITHHELD, "count": len(rows)}]
    return shown


def _run_time(result: dict[str, Any]) -> datetime:
    raw = (result.get("meta") or {}).get("run_id", {}).get("run_time")
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return datetime.now(UTC)


def _add_no_referrer(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _NO_REFERRER not in text:
            page.write_text(text.replace("<head>", f"<head>\n{_NO_REFERRER}", 1), encoding="utf-8")


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    old = out_dir.parent / f".old-{out_dir.name}-{uuid.uuid4().hex}"
    if out_dir.exists():
        out_dir.replace(old)
    tmp.replace(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def build_data_docs(result: dict[str, Any], suite: dict[str, Any], out_dir: Path) -> Path:
    """Render the Data Docs of one validation ``result`` into ``out_dir``; return its
    ``index.html``. Refuses (``IntegrityError``) a result that holds more than counts."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    problems = verify_scrubbed(result)
    if problems:
        raise IntegrityError(
            f"refusing to render a result that holds more than counts: {problems[0]}"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".tmp-{out_dir.name}-{uuid.uuid4().hex}"
    try:
        context = ephemeral_context()
        context.add_data_docs_site(
            site_name=SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(tmp),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        name = str(result.get("suite_name") or suite.get("name"))
        context.suites.add(
            ExpectationSuite(
                name=name,
                expectations=[
                    {k: e[k] for k in ("type", "kwargs", "meta", "notes", "severity") if k in e}
                    for e in suite.get("expectations", [])
                ],
                meta={"notes": suite.get("notes", "")},
            )
        )
        loaded = ExpectationSuiteValidationResultSchema().load(_for_rendering(result))
        run_name = str((result.get("meta") or {}).get("run_id", {}).get("run_name", name))
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=name),
            run_id=RunIdentifier(run_name=run_name, run_time=_run_time(result)),
            batch_identifier=run_name,
        )
        context.validation_results_store.set(key, loaded)
        context.build_data_docs(site_names=[SITE])
        if not any(tmp.glob("validations/**/*.html")):  # GX logs rendering errors and goes on
            raise InfrastructureError(f"GX did not render the validation page of {run_name}")
        _add_no_referrer(tmp)
        _replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / "index.html"
