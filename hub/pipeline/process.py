"""One extract through the pipeline: stage, validate with Great Expectations, keep or quarantine.

``process_extract`` stages the extract (``hub.pipeline.stage``: decrypt, parse, conform,
pseudonymise, generalise, write Parquet) and validates the staged, pseudonymised tables against
the agreement's suite as they are written (``hub.quality``: GX never sees an identifier, and
records no value). The outputs are renamed into place only if no critical expectation failed;
then:

- no critical failure: the extract becomes ``staged``; its report holds the conform and
  validation findings (with their severity), each staged column's completeness and where its
  Data Docs are;
- a critical failure: nothing was written (earlier outputs of the extract are removed), its
  sealed file moves to ``quarantine/`` and it becomes ``quarantined`` with the report saying
  what to fix (``hub.pipeline.quarantine``).

The extract is ``processing`` until one of the two is recorded, so it is never staged before it
was validated.

A quarantined extract staged again passes through the same steps; if it then passes, its sealed
file moves back to ``landing/``. Re-running gives the same outputs and the same report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import PurePosixPath

from sqlalchemy import Engine

from hub.agreements.model import Agreement
from hub.errors import NotFoundError
from hub.pipeline.quarantine import quarantine_extract, release_from_quarantine
from hub.pipeline.report import conform_severity
from hub.pipeline.stage import StageResult, mark_staged, stage_extract
from hub.privacy.keys import Keyring
from hub.quality.served import place_data_docs
from hub.quality.suites import effective_suite, expectations_dir_for
from hub.quality.validate import QualityOutcome, Validation
from hub.settings import Settings
from hub.store import Extract, session_scope

log = logging.getLogger(__name__)

BATCH_ROWS = 500_000


@dataclass(frozen=True)
class ProcessResult:
    extract_id: str
    agreement_id: str
    status: str  # staged or quarantined
    rows: int
    report: dict[str, object]
    staged: StageResult | None  # None when quarantined


def _arrival(engine: Engine, extract_id: str) -> date:
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None:
            raise NotFoundError(f"no extract {extract_id}")
        received = record.received_at
    return (received if received.tzinfo else received.replace(tzinfo=UTC)).date()


def _validation(
    settings: Settings, engine: Engine, agreement: Agreement, extract_id: str
) -> Validation:
    suite = effective_suite(agreement, expectations_dir_for(settings.contracts_dir))
    return Validation(
        agreement,
        suite,
        arrival_date=_arrival(engine, extract_id),
        batch_rows=BATCH_ROWS,
        run_name=extract_id,
    )


def _data_docs(
    settings: Settings, validation: Validation, extract_id: str, outcome: QualityOutcome
) -> str | None:
    """Build the extract's Data Docs (with the suite it was validated against) in the work
    folder and place them in the quality zone; a failure to render is logged, never fatal."""
    suite = dict(validation.suite)
    try:
        return place_data_docs(settings, validation.agreement.id, extract_id, outcome.result, suite)
    except Exception as exc:  # rendering is a convenience; the report holds the findings
        log.error("Data Docs of extract %s not built (%s)", extract_id, type(exc).__name__)
        return None


def _merged_report(agreement: Agreement, staged: StageResult) -> dict[str, object]:
    """The extract's report: conform findings (with their field's severity) and validation
    findings, the critical ones, whether it was quarantined and each column's completeness."""
    outcome = staged.outcome
    assert outcome is not None  # staging was given the validation
    conform = staged.report.get("findings", [])
    findings = [
        {
            **item,
            "severity": conform_severity(agreement, str(item.get("column"))).value,
            "source": "conform",
        }
        for item in (conform if isinstance(conform, list) else [])
        if isinstance(item, dict)
    ] + [f.as_dict() for f in outcome.findings]
    critical = [f for f in findings if f.get("severity") == "critical"]
    return {
        **staged.report,
        "findings": findings,
        "critical": critical,
        "quarantined": not staged.kept,
        "skipped": outcome.as_report()["skipped"],
        "completeness": staged.completeness,
    }


def process_extract(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    agreement: Agreement,
    extract_id: str,
    *,
    today: date | None = None,
    timings: dict[str, float] | None = None,
) -> ProcessResult:
    """Stage and validate one received (or quarantined) extract; keep it or quarantine it.

    ``timings``: as ``stage_extract``'s, plus ``"data_docs"`` (seconds building them)."""
    validation = _validation(settings, engine, agreement, extract_id)
    staged = stage_extract(
        settings, engine, keyring, agreement, extract_id, today=today,
        validation=validation, timings=timings,
    )  # fmt: skip
    outcome = staged.outcome
    assert outcome is not None  # staging was given the validation
    report = _merged_report(agreement, staged)
    started = time.perf_counter()
    report["data_docs"] = _data_docs(settings, validation, extract_id, outcome)
    if timings is not None:
        timings["data_docs"] = time.perf_counter() - started
    if not staged.kept:
        for output in (staged.staged_path, staged.tokens_path):  # an earlier run's outputs
            output.store.delete_tree(str(PurePosixPath(output.path).parent))
        quarantine_extract(settings, engine, extract_id, report, rows=staged.rows)
        return ProcessResult(extract_id, agreement.id, "quarantined", staged.rows, report, None)
    release_from_quarantine(settings, engine, extract_id)
    mark_staged(settings, engine, staged, report)
    log.info("validated extract %s: %d findings, none critical", extract_id, len(outcome.findings))
    return ProcessResult(extract_id, agreement.id, "staged", staged.rows, report, staged)
