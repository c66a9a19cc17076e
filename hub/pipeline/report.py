"""The quality report of one extract: counts and row numbers per column and rule, never values."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from hub.agreements.model import Agreement, Severity

FIRST_ROWS = 20


def conform_severity(agreement: Agreement, column: str) -> Severity:
    """The severity of a conform or normalise finding (a required value missing, a value that is
    not of its type, an identifier that does not normalise): its field's quality severity, so a
    critical field's unreadable values quarantine the extract instead of passing as nulls;
    warning for a field without quality rules."""
    for spec in agreement.fields:
        if spec.name == column:
            return spec.quality.severity if spec.quality is not None else Severity.WARNING
    return Severity.WARNING


@dataclass
class Finding:
    column: str
    rule: str
    count: int = 0
    first_rows: list[int] = field(default_factory=list)


@dataclass
class QualityTally:
    """Accumulates findings across batches of one extract."""

    agreement_id: str
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    rows: int = 0

    def add(self, column: str, rule: str, failed: pa.Array, row_numbers: pa.Array) -> None:
        """Record the rows where the boolean mask ``failed`` is true."""
        mask = pc.fill_null(failed, False)
        count = pc.sum(mask).as_py() or 0
        if not count:
            return
        finding = self.findings.setdefault((column, rule), Finding(column, rule))
        finding.count += count
        room = FIRST_ROWS - len(finding.first_rows)
        if room > 0:
            rows = pc.filter(row_numbers, mask).slice(0, room).to_pylist()
            finding.first_rows.extend(int(r) for r in rows)

    def critical(self, agreement: Agreement) -> bool:
        """Whether a finding is on a field whose quality severity is critical."""
        return any(
            conform_severity(agreement, f.column) is Severity.CRITICAL
            for f in self.findings.values()
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "agreement": self.agreement_id,
            "rows": self.rows,
            "findings": [
                {
                    "column": f.column,
                    "rule": f.rule,
                    "count": f.count,
                    "first_rows": f.first_rows,
                }
                for f in sorted(self.findings.values(), key=lambda f: (f.column, f.rule))
            ],
        }
