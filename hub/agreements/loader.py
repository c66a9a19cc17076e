"""Read agreement YAML files into models, with errors that name the file, line and field."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hub.agreements.lint import lint_text
from hub.agreements.model import Agreement
from hub.errors import AgreementError, NotFoundError


def load_agreement(path: Path) -> Agreement:
    """Parse and lint one agreement file.

    Any failed lint check raises ``AgreementError`` naming the file, line and key of the first
    one; warnings do not stop loading. The lint is what refuses looser disclosure control,
    duplicate fields and a provider that is not a party, which the model alone accepts.
    The same bytes at the same path are not parsed twice (every upload and page looks
    agreements up; the models are immutable): the cache is keyed by the file's content, so a
    one-byte change is always seen.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no agreement file {path}") from None
    return _load_bytes(str(path), data)


@lru_cache(maxsize=256)
def _load_bytes(name: str, data: bytes) -> Agreement:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgreementError(
            f"{name}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    report = lint_text(text, name)
    failed = report.failed
    if failed or report.agreement is None:
        first = failed[0] if failed else None
        what = f"{first.where}: {first.message}" if first else f"{name}: not a valid agreement"
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise AgreementError(
            f"{what}{more}",
            hint=f"run `hub agreement lint {name}` for every problem at once",
        )
    return report.agreement


def load_agreements(contracts_dir: Path) -> dict[str, Agreement]:
    """Every agreement in a folder, by id; any broken file, or two files with one id, is an
    error (for commands that must see the whole set, such as the demo)."""
    found, broken = load_agreements_leniently(contracts_dir)
    if broken:
        raise broken[0]
    return found


def load_agreements_leniently(
    contracts_dir: Path,
) -> tuple[dict[str, Agreement], list[AgreementError]]:
    """The agreements that load, and an error for each file that does not.

    One broken file must not stop every other agreement: the DAG file, the review pages and
    publication use this and report the broken files (file, line and rule, never data)."""
    found: dict[str, Agreement] = {}
    paths: dict[str, Path] = {}
    broken: list[AgreementError] = []
    for path in sorted(contracts_dir.glob("*.yaml")):
        try:
            agreement = load_agreement(path)
        except AgreementError as exc:
            broken.append(exc)
            continue
        if agreement.id in paths:
            broken.append(
                AgreementError(
                    f"{path.name}: agreement id {agreement.id} is also used by "
                    f"{paths[agreement.id].name}; no file with that id is used",
                    hint="give each agreement its own id",
                )
            )
            found.pop(agreement.id, None)
            continue
        found[agreement.id] = agreement
        paths[agreement.id] = path
    return found, broken


def get_agreement(contracts_dir: Path, agreement_id: str) -> Agreement:
    """One agreement by id; other agreements' broken files do not stand in its way."""
    agreements, broken = load_agreements_leniently(contracts_dir)
    if agreement_id not in agreements:
        hint = f"known agreements: {', '.join(sorted(agreements)) or 'none'}"
        if broken:
            hint += f"; {len(broken)} file(s) do not load, e.g. {broken[0].message}"
        raise NotFoundError(f"no agreement {agreement_id!r} in {contracts_dir}", hint=hint)
    return agreements[agreement_id]
