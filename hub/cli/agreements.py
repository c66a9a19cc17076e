"""``hub agreement ...``: lint, read, submit, sign, approve, suspend, revoke, diff, export."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

app = typer.Typer(
    help="Information-sharing agreements: lint, review, approve (sign), suspend, revoke.",
    no_args_is_help=True,
)
PASSPHRASE_ENV = "HUB_SIGNING_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)

STATUS_STYLE = {
    "approved": "green",
    "awaiting_approval": "yellow",
    "draft": "yellow",
    "suspended": "red",
    "revoked": "red",
    "superseded": "dim",
    "altered": "bold red",
}


@app.command("lint")
@handle_errors
def lint(
    files: Annotated[list[Path], typer.Argument(help="Agreement YAML files", exists=True)],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show passed checks")] = False,
) -> None:
    """Check agreement files and report every problem at once (exit 1 when any check fails)."""
    from hub.agreements.lint import CheckStatus, lint_file

    failed = warned = 0
    for path in files:
        report = lint_file(path)
        for check in report.checks:
            if check.status is CheckStatus.PASSED and not verbose:
                continue
            colour = {"passed": "green", "warning": "yellow", "failed": "red"}[check.status.value]
            out.print(f"[{colour}]{check.status.value:<7}[/] {escape(str(check))}")
        failed += len(report.failed)
        warned += len(report.warnings)
        if report.ok and not report.warnings:
            out.print(f"[green]ok[/]      {escape(str(path))}: {len(report.checks)} checks passed")
    out.print(f"{len(files)} file(s): {failed} failed, {warned} warning(s)")
    if failed:
        raise typer.Exit(1)


@app.command("schema")
@handle_errors
def schema(
    write: Annotated[bool, typer.Option(help="Write contracts/agreement.schema.json")] = False,
) -> None:
    """Print the JSON Schema of agreement files (generated from the model), or write it."""
    from hub.agreements.schema import SCHEMA_PATH, render_schema, write_schema

    if write:
        changed = write_schema()
        out.print(f"{'wrote' if changed else 'unchanged:'} {SCHEMA_PATH}")
    else:
        sys.stdout.write(render_schema())


@app.command("list")
@handle_errors
def list_() -> None:
    """Every agreement in contracts/ with its lifecycle status today."""
    from hub.agreements import load_agreements
    from hub.agreements.registry import AgreementRegistry

    s = settings()
    registry = AgreementRegistry.open(s, store(s))
    for a in load_agreements(s.contracts_dir).values():
        report = registry.status(a)
        style = STATUS_STYLE.get(report.status.value, "")
        status = report.status.value.replace("_", " ")
        line = (
            f"{a.id:<20} v{a.version:<3} [{style}]{status:<18}[/] "
            f"{'in force' if report.in_force else 'not in force':<13} from {a.provider}, "
            f"valid until {a.valid_until.isoformat()}"
        )
        if report.awaiting:
            line += f"; awaiting {', '.join(report.awaiting)}"
        out.print(line, soft_wrap=True)


@app.command("show")
@handle_errors
def show(agreement_id: str) -> None:
    """An agreement in plain words: parties, purpose, law, every field and what happens to it."""
    from hub.agreements import get_agreement
    from hub.agreements.plain import describe
    from hub.agreements.registry import AgreementRegistry

    s = settings()
    agreement = get_agreement(s.contracts_dir, agreement_id)
    report = AgreementRegistry.open(s, store(s)).status(agreement)
    plain = describe(agreement)
    out.print(f"[bold]{plain.title}[/] ({agreement.id} v{agreement.version})")
    out.print(f"Status: {report.reason}\n")
    out.print(plain.summary + "\n")
    for party in plain.parties:
        out.print(
            f"- {party.name} ({party.role}); data protection lead {party.lead_name}, "
            f"{party.lead_title} <{party.lead_email}>"
        )
    out.print(f"\n[bold]Purpose[/] {plain.purpose}")
    for label, text in plain.lawful_basis:
        out.print(f"[bold]{label}[/] {text}")
    out.print(f"[bold]Delivery[/] {plain.delivery}")
    table = Table("field", "classification", "what the hub does")
    for f in plain.fields:
        table.add_row(f.name, f.classification, f.what_happens)
    out.print(table)
    for zone, text in plain.retention:
        out.print(f"[bold]Kept in {zone}[/] {text}")
    out.print(f"[bold]Onward sharing[/] {plain.onward_sharing}")
    for line in plain.output_access:
        out.print(f"[bold]Outputs[/] {line}")
    for line in plain.longitudinal:
        out.print(f"[bold]Across releases[/] {line}")
    out.print(f"[bold]Disclosure control[/] {plain.disclosure}")
    out.print(f"[bold]Validity[/] {plain.validity}. {plain.review}")


@app.command("submit")
@handle_errors
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Agreement YAML")],
) -> None:
    """Submit a version for approval by the data protection leads (the file must lint clean)."""
    from hub.agreements import load_agreement
    from hub.agreements.registry import AgreementRegistry, cli_actor

    s = settings()
    agreement = load_agreement(file)
    registry = AgreementRegistry.open(s, store(s))
    record = registry.submit(agreement, cli_actor())
    out.print(f"{agreement.id} v{agreement.version} submitted; digest {record.digest}")
    out.print(registry.status(agreement).reason)


@app.command("sign")
@handle_errors
def sign(
    target: Annotated[str, typer.Argument(help="An agreement YAML file, or an agreement id")],
    key: Annotated[Path, typer.Option(help="Your private signing key (hub signers keygen)")],
    version: Annotated[int | None, typer.Option(help="Version (with an agreement id)")] = None,
    digest: Annotated[
        str | None, typer.Option(help="Digest shown on the review page (with an agreement id)")
    ] = None,
) -> None:
    """Sign an approval on your own machine and print the approval token to paste on the
    review page. Your organisation and email come from the public key file beside your key."""
    import getpass

    from hub.agreements import load_agreement
    from hub.agreements.canonical import terms_digest
    from hub.agreements.signing import load_private_key, public_record_beside, sign_approval
    from hub.errors import UserError

    path = Path(target)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        agreement = load_agreement(path)
        agreement_id, version, digest = agreement.id, agreement.version, terms_digest(agreement)
    elif version is None or digest is None:
        raise UserError(
            "signing by agreement id needs --version and --digest",
            hint="copy both from the agreement's review page, or give the agreement file",
        )
    else:
        agreement_id = target
    me = public_record_beside(key)
    passphrase = os.environ.get(PASSPHRASE_ENV) or getpass.getpass("Passphrase of your key: ")
    approval = sign_approval(
        load_private_key(key, passphrase),
        agreement_id=agreement_id,
        version=version,
        digest=digest,
        org=me.org,
        signer_email=me.email,
    )
    sys.stderr.write(
        f"Approval of {agreement_id} v{version} (digest {digest[:12]}...) by {me.email} for "
        f"{me.org}. Paste this token on the review page:\n"
    )
    sys.stdout.write(approval.to_token() + "\n")


@app.command("approve")
@handle_errors
def approve(
    token: Annotated[
        str | None, typer.Argument(help="Approval token from `hub agreement sign` (or stdin)")
    ] = None,
) -> None:
    """Record a lead's signed approval (the review page does the same)."""
    from hub.agreements.registry import AgreementRegistry, cli_actor
    from hub.agreements.signing import SignedApproval

    s = settings()
    approval = SignedApproval.from_token(token if token is not None else sys.stdin.read())
    report = AgreementRegistry.open(s, store(s)).approve(approval, cli_actor())
    out.print(report.reason)


def _step(action: str, agreement_id: str, version: int, org: str, reason: str) -> None:
    from hub.agreements.registry import AgreementRegistry, cli_actor

    s = settings()
    registry = AgreementRegistry.open(s, store(s))
    getattr(registry, action)(agreement_id, version, org, cli_actor(), reason)
    record = registry.record(agreement_id, version)
    assert record is not None
    out.print(f"{agreement_id} v{version}: {action} recorded for {org}")
    out.print(registry.status(record.agreement()).reason)


ORG = typer.Option(help="The organisation of the lead taking the step (a party)")
REASON = typer.Option(help="Why (kept in the audit log)")


@app.command("suspend")
@handle_errors
def suspend(
    agreement_id: str,
    version: Annotated[int, typer.Option()],
    org: Annotated[str, ORG],
    reason: Annotated[str, REASON],
) -> None:
    """Pause an approved agreement: nothing is accepted or published under it meanwhile."""
    _step("suspend", agreement_id, version, org, reason)


@app.command("resume")
@handle_errors
def resume(
    agreement_id: str,
    version: Annotated[int, typer.Option()],
    org: Annotated[str, ORG],
    reason: Annotated[str, REASON],
) -> None:
    """Lift a suspension (only the party that suspended can)."""
    _step("resume", agreement_id, version, org, reason)


@app.command("revoke")
@handle_errors
def revoke(
    agreement_id: str,
    version: Annotated[int, typer.Option()],
    org: Annotated[str, ORG],
    reason: Annotated[str, REASON],
) -> None:
    """End an agreement for good (a new version needs fresh approval)."""
    _step("revoke", agreement_id, version, org, reason)


@app.command("diff")
@handle_errors
def diff(
    old: Annotated[str, typer.Argument(help="Old version: a YAML file, or an agreement id")],
    new: Annotated[
        Path | None, typer.Argument(help="New version (default: the file in contracts/)")
    ] = None,
) -> None:
    """What changes between two versions, in plain words. With an agreement id, the previous
    submitted version is compared with the file in contracts/."""
    from hub.agreements import get_agreement, load_agreement
    from hub.agreements.diff import diff_agreements
    from hub.agreements.registry import AgreementRegistry
    from hub.errors import NotFoundError

    s = settings()
    if Path(old).is_file():
        before = load_agreement(Path(old))
        after = load_agreement(new) if new else get_agreement(s.contracts_dir, before.id)
    else:
        after = load_agreement(new) if new else get_agreement(s.contracts_dir, old)
        records = AgreementRegistry.open(s, store(s)).records(old)
        earlier = [r for r in records if r.version < after.version]
        if not earlier:
            raise NotFoundError(f"no version of {old} before v{after.version} was submitted")
        before = earlier[-1].agreement()
    changes = diff_agreements(before, after)
    out.print(f"{before.id} v{before.version} -> v{after.version}:")
    for change in changes:
        out.print(f"- {change.text}")
    if not changes:
        out.print("no changes")


@app.command("export")
@handle_errors
def export(
    agreement_id: str,
    odcs: Annotated[bool, typer.Option("--odcs", help="Open Data Contract Standard v3")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write")] = None,
) -> None:
    """Export the dataset part of an agreement (ODCS v3 YAML) for tools that speak it."""
    from hub.agreements import get_agreement
    from hub.agreements.odcs import to_odcs_yaml
    from hub.agreements.registry import AgreementRegistry
    from hub.errors import UserError

    if not odcs:
        raise UserError("choose an export format", hint="hub agreement export ID --odcs")
    s = settings()
    agreement = get_agreement(s.contracts_dir, agreement_id)
    registry = AgreementRegistry.open(s, store(s))
    report = registry.status(agreement)
    record = registry.record(agreement.id, agreement.version)
    signatures = [
        {
            "org": a.statement.org,
            "signer": a.statement.signer_email,
            "keyId": a.statement.key_id,
            "signedAt": a.statement.signed_at,
        }
        for a in (record.signatures if record else ())
        if a.statement.org in report.signed_by
    ]
    text = to_odcs_yaml(agreement, status=report.status.value, signatures=signatures)
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text)
