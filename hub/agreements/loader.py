"""Read agreement YAML files into models, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

from hub.agreements.lint import lint_file
from hub.agreements.model import Agreement
from hub.errors import AgreementError, NotFoundError


def load_agreement(path: Path) -> Agreement:
    """Parse and lint one agreement file.

    Any failed lint check raises ``AgreementError`` naming the file, line and key of the first
    one; warnings do not stop loading. The lint is what refuses looser disclosure control,
    duplicate fields and a provider that is not a party, which the model alone accepts.
    """
    report = lint_file(path)
    failed = report.failed
    if failed or report.agreement is None:
        first = failed[0] if failed else None
        what = f"{first.where}: {first.message}" if first else f"{path}: not a valid agreement"
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise AgreementError(
            f"{what}{more}",
            hint=f"run `hub agreement lint {path}` for every problem at once",
        )
    return report.agreement


def load_agreements(contracts_dir: Path) -> dict[str, Agreement]:
    """Every agreement in a folder, by id. Two files with one id are an error."""
    found: dict[str, Agreement] = {}
    for path in sorted(contracts_dir.glob("*.yaml")):
        agreement = load_agreement(path)
        if agreement.id in found:
            raise AgreementError(f"{path.name}: agreement id {agreement.id} is used twice")
        found[agreement.id] = agreement
    return found


def get_agreement(contracts_dir: Path, agreement_id: str) -> Agreement:
    agreements = load_agreements(contracts_dir)
    if agreement_id not in agreements:
        raise NotFoundError(
            f"no agreement {agreement_id!r} in {contracts_dir}",
            hint=f"known agreements: {', '.join(sorted(agreements)) or 'none'}",
        )
    return agreements[agreement_id]
