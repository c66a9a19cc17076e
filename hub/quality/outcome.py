"""What validating one extract found: findings, the outcome, and the result in GX's JSON shape.

The counts of each expectation, summed over batches (``hub_checks.Tally``), become a GX
``SUMMARY`` result with the percentages GX would compute, and ``success`` by GX's rule (the share
of non-missing rows that pass is at least ``mostly``, default 1). A failed expectation becomes a
``Finding``: counts and record numbers, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.agreements.model import Agreement, Severity
from hub.quality.engine import gx_version
from hub.quality.hub_checks import Tally
from hub.quality.rules import BY_GX, BY_HUB, RECORD

FAILED = "failed"
ERROR = "error"


def by_hub(e: Mapping[str, Any]) -> bool:
    """Whether the hub evaluates an expectation (its meta says so); GX evaluates the rest."""
    return bool((e.get("meta") or {}).get("evaluated_by") == BY_HUB)


@dataclass(frozen=True)
class Finding:
    """One expectation that failed (or could not run) on an extract. Never holds a value."""

    column: str  # the staged (or token) column checked
    field: str  # the agreement's field
    rule: str  # stable rule id, e.g. allowed_values, not_null, cross_field:<name>
    severity: Severity
    status: str  # "failed", or "error" when it could not be evaluated
    count: int  # failing rows (0 for an error)
    first_rows: tuple[int, ...]  # their record numbers, first 20
    expectation: str  # GX expectation type
    source: str  # "agreement" or "extra"

    def as_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "field": self.field,
            "rule": self.rule,
            "severity": self.severity.value,
            "status": self.status,
            "count": self.count,
            "first_rows": list(self.first_rows),
            "expectation": self.expectation,
            "source": self.source,
        }


@dataclass(frozen=True)
class QualityOutcome:
    """What validating one staged extract found."""

    agreement_id: str
    rows: int
    critical: bool  # a critical expectation failed or could not run: quarantine the extract
    findings: tuple[Finding, ...]
    skipped: tuple[dict[str, str], ...]  # agreement rules that cannot apply to the staged view
    result: dict[str, Any]  # GX ExpectationSuiteValidationResult JSON, scrubbed and verified
    seconds: float

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def as_report(self) -> dict[str, object]:
        """For the extract's quality report: counts and row numbers, never values."""
        return {
            "agreement": self.agreement_id,
            "rows": self.rows,
            "critical": self.critical,
            "findings": [f.as_dict() for f in self.findings],
            "skipped": [dict(s) for s in self.skipped],
        }


def _substitute(value: Any, parameters: Mapping[str, Any]) -> Any:
    """Suite parameters replaced by their (JSON) values, as GX shows them in results."""
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return parameters.get(str(value["$PARAMETER"]), value)
        return {k: _substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, parameters) for v in value]
    return value


def percent(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


def _result_of(tally: Tally) -> dict[str, Any]:
    """A GX SUMMARY result from summed counts (the percentages GX would compute)."""
    result: dict[str, Any] = {
        "element_count": tally.element_count,
        "unexpected_count": tally.unexpected_count,
        "unexpected_index_column_names": [RECORD],
        "partial_unexpected_index_list": [{RECORD: r} for r in tally.first_rows],
    }
    if tally.missing_count is None:
        result["unexpected_percent"] = percent(tally.unexpected_count, tally.element_count)
        return result
    nonmissing = tally.element_count - tally.missing_count
    result.update(
        {
            "missing_count": tally.missing_count,
            "missing_percent": percent(tally.missing_count, tally.element_count),
            "unexpected_percent": percent(tally.unexpected_count, nonmissing),
            "unexpected_percent_total": percent(tally.unexpected_count, tally.element_count),
            "unexpected_percent_nonmissing": percent(tally.unexpected_count, nonmissing),
        }
    )
    return result


def _success(tally: Tally, kwargs: Mapping[str, Any]) -> bool:
    """GX's rule: the share of non-missing rows that pass is at least ``mostly`` (default 1)."""
    mostly = kwargs.get("mostly")
    considered = tally.element_count - (tally.missing_count or 0)
    if not isinstance(mostly, int | float) or mostly >= 1:
        return tally.unexpected_count == 0
    if considered <= 0:
        return True
    return (considered - tally.unexpected_count) / considered >= mostly


@dataclass
class Evaluated:
    tally: Tally
    error: str | None  # the withheld exception, or why it was not evaluated


def expectation_result(
    e: dict[str, Any], evaluated: Evaluated, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    tally = evaluated.tally
    config = {k: v for k, v in e.items() if k in ("type", "meta", "notes", "severity")}
    config["kwargs"] = _substitute(e["kwargs"], parameters)
    raised = evaluated.error is not None
    return {
        "success": False if raised else _success(tally, e["kwargs"]),
        "expectation_config": config,
        "result": {} if raised else _result_of(tally),
        "meta": {"evaluated_by": BY_HUB if by_hub(e) else BY_GX, "batches": tally.batches},
        "exception_info": {
            "raised_exception": raised,
            "exception_message": evaluated.error,
            "exception_traceback": None,
        },
    }


def finding(e: dict[str, Any], entry: dict[str, Any]) -> Finding | None:
    if entry["success"]:
        return None
    meta, result = e.get("meta") or {}, entry["result"]
    raised = entry["exception_info"]["raised_exception"]
    return Finding(
        column=str(meta.get("column", e["kwargs"].get("column", ""))),
        field=str(meta.get("field", "")),
        rule=str(meta.get("rule", e["type"])),
        severity=Severity(meta.get("severity", e.get("severity", Severity.WARNING.value))),
        status=ERROR if raised else FAILED,
        count=0 if raised else int(result["unexpected_count"]),
        first_rows=()
        if raised
        else tuple(r[RECORD] for r in result["partial_unexpected_index_list"]),
        expectation=str(e["type"]),
        source=str(meta.get("source", "agreement")),
    )


def suite_result(
    agreement: Agreement,
    suite_name: str,
    entries: list[dict[str, Any]],
    parameters: dict[str, str],
    *,
    rows: int,
    batches: int,
    batch_rows: int,
    run_name: str,
    seconds: float,
    skipped: tuple[dict[str, str], ...],
) -> dict[str, Any]:
    """The run's result in GX's ExpectationSuiteValidationResult JSON shape (before scrubbing)."""
    passed = sum(1 for x in entries if x["success"])
    now = datetime.now(UTC).isoformat()
    return {
        "success": passed == len(entries),
        "results": entries,
        "suite_name": suite_name,
        "suite_parameters": parameters,
        "statistics": {
            "evaluated_expectations": len(entries),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(entries) - passed,
            "success_percent": percent(passed, len(entries)) if entries else 100.0,
        },
        "meta": {
            "active_batch_definition": {
                "datasource_name": "hub",
                "data_connector_name": "fluent",
                "data_asset_name": f"{agreement.id} (staged, pseudonymised)",
                "batch_identifiers": {},
            },
            "agreement": {"id": agreement.id, "version": agreement.version},
            "batch_rows": batch_rows,
            "batch_spec": {"data_asset_name": f"{agreement.id}: staged extract (pseudonymised)"},
            "batches": batches,
            "great_expectations_version": gx_version(),
            "rows": rows,
            "run_id": {"run_name": run_name, "run_time": now},
            "seconds": round(seconds, 3),
            "skipped": [dict(s) for s in skipped],
            "validation_time": now,
        },
    }
