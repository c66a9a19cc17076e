"""Keep only what a validation result may hold: counts, percentages, row numbers and the suite.

A GX result can carry values in many places: ``partial_unexpected_list``, ``unexpected_list``,
``partial_unexpected_counts``, ``unexpected_rows``, ``unexpected_index_query``, an
``unexpected_index_list`` whose entries quote the failing value beside its row, the
``observed_value`` of aggregate expectations, the messages and tracebacks of exceptions (a
pandas or Arrow error quotes the value it choked on) and the batch fingerprint in ``meta``. Rather
than deleting what is known to be dangerous, ``scrub_result`` rebuilds the result from an
allow-list; ``verify_scrubbed`` walks a result and names anything outside it, and is run on every
result before it is returned or rendered.
"""

from __future__ import annotations

import re
from typing import Any

from hub.quality.engine import FIRST_ROWS
from hub.quality.rules import RECORD

RESULT_KEYS = frozenset(
    {
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
        "missing_count",
        "missing_percent",
        "partial_unexpected_index_list",
        "unexpected_index_column_names",
    }
)
_TOP_KEYS = frozenset(
    {"success", "results", "suite_name", "suite_parameters", "statistics", "meta"}
)
_CONFIG_KEYS = frozenset({"type", "kwargs", "meta", "notes", "severity"})
_EXPECTATION_RESULT_KEYS = frozenset(
    {"success", "expectation_config", "result", "meta", "exception_info"}
)
_RUN_META_KEYS = frozenset(
    {
        "active_batch_definition",
        "agreement",
        "batch_rows",
        "batch_spec",
        "batches",
        "great_expectations_version",
        "rows",
        "run_id",
        "seconds",
        "skipped",
        "validation_time",
    }
)
_RESULT_META_KEYS = frozenset({"batches", "evaluated_by"})
# what an exception may say: its class name, or why the hub did not evaluate an expectation
_MESSAGE = re.compile(
    r"^(?:[A-Za-z_][A-Za-z0-9_.]* \(message withheld\)|not evaluated: [a-z ,;()]+)$"
)


def withheld(exc_name: str) -> str:
    """The only form an exception takes in a result: its class name."""
    name = exc_name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", exc_name) else "Exception"
    return f"{name} (message withheld)"


def _row_numbers(value: Any) -> list[dict[str, int]]:
    """``partial_unexpected_index_list`` as at most ``FIRST_ROWS`` ``{"record": n}`` entries,
    whichever GX shape it came in (a row per entry, or one entry listing the rows)."""
    rows: list[int] = []
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict):
            found = entry.get(RECORD)
            items = found if isinstance(found, list) else [found]
        else:
            items = [entry]
        rows.extend(int(r) for r in items if isinstance(r, int) and not isinstance(r, bool))
    return [{RECORD: r} for r in rows[:FIRST_ROWS]]


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def scrub_expectation_result(raw: dict[str, Any]) -> dict[str, Any]:
    result = raw.get("result") or {}
    clean: dict[str, Any] = {}
    for key in sorted(RESULT_KEYS & set(result)):
        if key == "partial_unexpected_index_list":
            clean[key] = _row_numbers(result[key])
        elif key == "unexpected_index_column_names":
            clean[key] = [RECORD]
        else:
            clean[key] = _number(result[key])
    info = raw.get("exception_info") or {}
    message = info.get("exception_message")
    raised = bool(info.get("raised_exception")) and isinstance(message, str)
    config = raw.get("expectation_config") or {}
    return {
        "success": raw.get("success") if isinstance(raw.get("success"), bool) else None,
        "expectation_config": {k: config[k] for k in sorted(_CONFIG_KEYS & set(config))},
        "result": clean,
        "meta": {k: v for k, v in (raw.get("meta") or {}).items() if k in _RESULT_META_KEYS},
        "exception_info": {
            "raised_exception": raised,
            "exception_message": message
            if raised and _MESSAGE.match(str(message))
            else (withheld("Exception") if raised else None),
            "exception_traceback": None,
        },
    }


def scrub_result(raw: dict[str, Any]) -> dict[str, Any]:
    """A validation result holding only allow-listed keys; row numbers at most ``FIRST_ROWS``
    per expectation; exception messages reduced to class names; no batch fingerprint."""
    meta = raw.get("meta") or {}
    return {
        "success": bool(raw.get("success")),
        "results": [scrub_expectation_result(r) for r in raw.get("results") or []],
        "suite_name": str(raw.get("suite_name", "")),
        "suite_parameters": dict(raw.get("suite_parameters") or {}),
        "statistics": {k: _number(v) for k, v in (raw.get("statistics") or {}).items()},
        "meta": {k: meta[k] for k in sorted(_RUN_META_KEYS & set(meta))},
    }


def _problems_in_result(i: int, entry: dict[str, Any]) -> list[str]:
    where = f"results[{i}]"
    problems = [f"{where}: key {k}" for k in sorted(set(entry) - _EXPECTATION_RESULT_KEYS)]
    result = entry.get("result") or {}
    problems += [f"{where}.result: key {k}" for k in sorted(set(result) - RESULT_KEYS)]
    for key, value in result.items():
        if key == "partial_unexpected_index_list":
            if not isinstance(value, list) or len(value) > FIRST_ROWS:
                problems.append(f"{where}.result.{key}: not a list of at most {FIRST_ROWS}")
            elif any(set(e) != {RECORD} or not isinstance(e[RECORD], int) for e in value):
                problems.append(f"{where}.result.{key}: an entry other than a row number")
        elif key == "unexpected_index_column_names":
            if value != [RECORD]:
                problems.append(f"{where}.result.{key}: not [{RECORD!r}]")
        elif value is not None and _number(value) is None:
            problems.append(f"{where}.result.{key}: not a number")
    info = entry.get("exception_info") or {}
    problems += [
        f"{where}.exception_info: key {k}"
        for k in sorted(
            set(info) - {"raised_exception", "exception_message", "exception_traceback"}
        )
    ]
    message = info.get("exception_message")
    if message is not None and not _MESSAGE.match(str(message)):
        problems.append(f"{where}.exception_info: a message other than a class name")
    if info.get("exception_traceback") is not None:
        problems.append(f"{where}.exception_info: a traceback")
    config = entry.get("expectation_config") or {}
    problems += [f"{where}.expectation_config: key {k}" for k in sorted(set(config) - _CONFIG_KEYS)]
    meta = entry.get("meta") or {}
    problems += [f"{where}.meta: key {k}" for k in sorted(set(meta) - _RESULT_META_KEYS)]
    return problems


def verify_scrubbed(result: dict[str, Any]) -> list[str]:
    """Where ``result`` holds anything outside the allow-list (empty: nothing). The problems
    name keys and positions, never values."""
    problems = [f"key {k}" for k in sorted(set(result) - _TOP_KEYS)]
    meta = result.get("meta") or {}
    problems += [f"meta: key {k}" for k in sorted(set(meta) - _RUN_META_KEYS)]
    for i, entry in enumerate(result.get("results") or []):
        if not isinstance(entry, dict):
            problems.append(f"results[{i}]: not an object")
            continue
        problems += _problems_in_result(i, entry)
    return problems
