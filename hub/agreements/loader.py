"""Read agreement YAML files into models, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.agreements.model import Agreement
from hub.errors import AgreementError, NotFoundError


def _line_of(path: Path, key: str) -> int | None:
    """The first line that starts the given key, for error messages."""
    needle = f"{key}:"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip().lstrip("- ").startswith(needle):
            return number
    return None


def load_agreement(path: Path) -> Agreement:
    """Parse one agreement file; a broken file raises ``AgreementError`` naming where and why."""
    try:
        doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AgreementError(f"{path.name}{where}: not valid YAML") from None
    if not isinstance(doc, dict):
        raise AgreementError(f"{path.name}: an agreement is a YAML mapping")
    try:
        return Agreement.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        key = next((str(p) for p in reversed(first["loc"]) if isinstance(p, str)), "")
        line = _line_of(path, key) if key else None
        at = f" line {line}" if line else ""
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise AgreementError(
            f"{path.name}{at}: {loc}: {first['msg']}{more}",
            hint="run `hub agreement lint` for every problem at once",
        ) from None


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
