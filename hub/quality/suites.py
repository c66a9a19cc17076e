"""Expectation suites (GX 1.x JSON) generated from each agreement, merged with hand-written extras.

``expectations/<agreement-id>.json`` is the effective suite the pipeline runs: the expectations
generated from the agreement's field and cross-field rules (``hub.quality.rules``), then those of
``expectations/<agreement-id>.extra.json`` (``hub.quality.extras``). The file is generated, never
edited: ``hub expectations write`` rewrites every suite, ``hub expectations check`` (and
``tests/unit/test_expectation_suites_drift.py``) fail when one is stale. Output is deterministic:
sorted keys, two-space indent, expectations in agreement order, no GX ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.agreements.loader import load_agreements
from hub.agreements.model import Agreement
from hub.errors import NotFoundError
from hub.quality.extras import EXTRA_SUFFIX, extras_path, load_extras
from hub.quality.rules import PARAMETERS, plan_agreement

GENERATED_BY = (
    "hub expectations write (hub.quality.suites): generated, do not edit; change the agreement "
    "or the hand-written <agreement>.extra.json beside this file"
)


def expectations_dir_for(contracts_dir: Path) -> Path:
    """Where an agreement folder's suites live: ``expectations/`` beside ``contracts/``."""
    return contracts_dir.parent / "expectations"


def suite_path(expectations_dir: Path, agreement_id: str) -> Path:
    return expectations_dir / f"{agreement_id}.json"


def suite_for(
    agreement: Agreement, extras: list[dict[str, Any]] | None = None, *, extras_file: str = ""
) -> dict[str, Any]:
    """The GX 1.x ExpectationSuite JSON of an agreement: its generated expectations, then
    ``extras`` (already checked by ``load_extras``). Rules that cannot apply to the staged view
    are listed with their reasons in ``meta.skipped``."""
    plan = plan_agreement(agreement)
    return {
        "name": agreement.id,
        "expectations": [*plan.expectations, *(extras or [])],
        "meta": {
            "agreement": {"id": agreement.id, "version": agreement.version},
            "extras": extras_file or None,
            "generated_by": GENERATED_BY,
            "parameters": dict(PARAMETERS),
            "skipped": [s.as_dict() for s in plan.skipped],
        },
        "notes": (
            f"Quality checks of {agreement.title} ({agreement.id} version {agreement.version}) "
            "on the pseudonymised, staged extract. Failures are counted and located by row "
            "number; values are never recorded."
        ),
    }


def effective_suite(agreement: Agreement, expectations_dir: Path) -> dict[str, Any]:
    """The suite generated from the agreement merged with its hand-written extras file."""
    path = extras_path(expectations_dir, agreement.id)
    generated = plan_agreement(agreement).expectations
    taken = {(e["meta"]["column"], e["meta"]["rule"]) for e in generated}
    extras = load_extras(agreement, path, taken)
    return suite_for(agreement, extras, extras_file=path.name if path.is_file() else "")


def render_suite(suite: dict[str, Any]) -> str:
    """A suite file's exact text: JSON, indent 2, sorted keys, a trailing newline."""
    return json.dumps(suite, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_suite(expectations_dir: Path, agreement_id: str) -> dict[str, Any]:
    """The committed suite of an agreement (what the pipeline runs)."""
    path = suite_path(expectations_dir, agreement_id)
    try:
        suite: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(
            f"no expectation suite {path}", hint="run `hub expectations write`"
        ) from None
    return suite


@dataclass(frozen=True)
class SuiteDrift:
    """One suite file out of step with its agreement (or extras), or with no agreement."""

    path: Path
    problem: str  # "missing", "stale" or "orphan"

    def __str__(self) -> str:
        return f"{self.path.name}: {self.problem}"


def _rendered(contracts_dir: Path, expectations_dir: Path) -> dict[Path, str]:
    agreements = load_agreements(contracts_dir)
    return {
        suite_path(expectations_dir, agreement_id): render_suite(
            effective_suite(agreement, expectations_dir)
        )
        for agreement_id, agreement in sorted(agreements.items())
    }


def _suite_files(expectations_dir: Path) -> list[Path]:
    if not expectations_dir.is_dir():
        return []
    return sorted(p for p in expectations_dir.glob("*.json") if not p.name.endswith(EXTRA_SUFFIX))


def check_suites(contracts_dir: Path, expectations_dir: Path) -> list[SuiteDrift]:
    """Every suite file that is missing, stale or has no agreement (empty: all in step)."""
    wanted = _rendered(contracts_dir, expectations_dir)
    drift = [
        SuiteDrift(path, "missing" if not path.is_file() else "stale")
        for path, text in wanted.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    drift.extend(SuiteDrift(p, "orphan") for p in _suite_files(expectations_dir) if p not in wanted)
    return drift


def write_suites(contracts_dir: Path, expectations_dir: Path) -> list[Path]:
    """Write the suite of every agreement in ``contracts_dir``; return the files changed.

    Files of agreements no longer in the folder are left for a person to remove (``check``
    reports them as orphans): a suite may still be needed to read old results.
    """
    expectations_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, text in _rendered(contracts_dir, expectations_dir).items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        changed.append(path)
    return changed
