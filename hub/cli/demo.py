"""`hub demo`: the whole job on the embedded default, on a synthetic partnership.

Synthetic partner files -> received into the encrypted landing zone -> each agreement's Airflow
DAG (real Airflow, in-process ``dag.test()``) stages it -> the one-picture DAG links and publishes.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from hub.agreements import Agreement, load_agreements
from hub.agreements.development import approve_for_development
from hub.errors import InfrastructureError
from hub.linkage import LinkInput
from hub.linkage.config import load_linkage_config
from hub.linkage.engine import linked_now
from hub.linkage.evaluation import LinkageQuality, evaluate
from hub.logs import configure_logging
from hub.pipeline.airflow_env import configure_airflow, migrate_airflow_db
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import Keyring, init_keyring, open_keyring
from hub.privacy.rotation import TOKENS_FILE
from hub.publication.measures import DESCRIPTIONS, HOME_OFFICE
from hub.publication.release import PublishedRelease, current_release, load_release
from hub.settings import Settings
from hub.storage import zone_store
from hub.store import Extract, make_engine, session_scope, upgrade

EXTENSIONS = {"csv": "csv", "parquet": "parquet", "ndjson": "ndjson"}


@dataclass(frozen=True)
class DemoResult:
    rows: dict[str, int]
    findings: dict[str, int]
    release: PublishedRelease
    seconds: float
    quarantined: dict[str, object]  # the deliberately bad extract's status and report
    linkage: LinkageQuality  # the release's linkage against the generator's ground truth
    deterministic: LinkageQuality  # the same for the deterministic passes alone


BAD_AGREEMENT = "police-sv"
BAD_ROWS = 200
BAD_LINES = (5, 17, 42)  # data rows whose offence date is put in the future


def bad_extract(good: Path, out: Path) -> Path:
    """A deliberately bad police extract for the demo: the first ``BAD_ROWS`` rows of the good
    one, with the offence date of rows ``BAD_LINES`` in 2099 (a critical rule: quarantined)."""
    import csv

    with good.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        rows = [row for _, row in zip(range(BAD_ROWS), reader, strict=False)]
    column = header.index("offence_date")
    for line in BAD_LINES:
        rows[line - 1][column] = "2099-01-01"
    with out.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return out


def _keyring(settings: Settings) -> Keyring:
    """The installation's keyring; created on first use in development when nothing was
    pseudonymised before (a new keyring would silently break linkage with older data)."""
    if (settings.key_dir / "keyring.json").exists():
        return open_keyring(settings)
    if zone_store(settings, "staging").list():
        return open_keyring(settings)  # raises the clear "no keyring" error
    return init_keyring(settings)


def run_demo(
    settings: Settings,
    *,
    rows: int | None = None,
    seed: int | None = None,
    console: Console | None = None,
    today: date | None = None,
) -> DemoResult:
    from hub.synth import DEFAULT_SEED, generate_partnership

    console = console or Console(file=sys.stdout)
    started = time.perf_counter()
    settings.ensure_dirs()
    configure_logging(settings)
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    keyring = _keyring(settings)
    agreements = load_agreements(settings.contracts_dir)
    outbox = settings.data_dir / "partners"

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<44}"),
        BarColumn(),
        TextColumn("{task.completed:>9,.0f}"),
        TimeElapsedColumn(),
    )
    airflow_log = settings.log_dir / "airflow.log"
    with Progress(*columns, console=console) as progress:
        step = progress.add_task("Synthetic partnership (partners' own files)", total=None)
        summary = generate_partnership(
            outbox,
            seed=DEFAULT_SEED if seed is None else seed,
            rows=rows,
            progress=lambda _feed, n: progress.update(step, completed=n),
        )
        progress.update(
            step, total=sum(summary.rows.values()), completed=sum(summary.rows.values())
        )
        settings.reference_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            outbox / "reference" / "postcode_lsoa.csv",
            settings.reference_dir / "postcode_lsoa.csv",
        )

        step = progress.add_task(
            "Leads approve the agreements (development keys)", total=len(agreements)
        )
        approvals = approve_for_development(settings, engine, agreements.values(), on=today)
        progress.update(step, completed=len(approvals))

        step = progress.add_task("Airflow metadata database", total=1)
        configure_airflow(settings)
        with _captured(airflow_log):
            migrate_airflow_db()
            from hub.pipeline.dags import build_dags

            dags = build_dags(agreements)
        progress.update(step, completed=1)

        step = progress.add_task(
            "Partners upload into the encrypted landing zone", total=len(agreements)
        )
        received: dict[str, str] = {}
        for agreement in agreements.values():
            path = outbox / "extracts" / f"{agreement.id}.{EXTENSIONS[agreement.delivery.format]}"
            received[agreement.id] = _send(settings, engine, keyring, agreement, path, today).id
            progress.advance(step)

        bad = _send_bad_extract(settings, engine, keyring, agreements[BAD_AGREEMENT], today)

        from hub.pipeline.dags import ONE_PICTURE_DAG_ID, agreement_dag_id

        step = progress.add_task(
            "Agreement DAGs: conform, pseudonymise, stage", total=len(agreements)
        )
        for agreement_id, extract_id in received.items():
            progress.update(step, description=f"Agreement DAG {agreement_id}")
            _run_dag(
                dags[agreement_dag_id(agreement_id)],
                airflow_log,
                run_conf={"extract_id": extract_id},
            )
            progress.advance(step)
        progress.update(step, description="Agreement DAGs: conform, pseudonymise, stage")

        _run_dag(
            dags[agreement_dag_id(BAD_AGREEMENT)], airflow_log, run_conf={"extract_id": bad.id}
        )

        step = progress.add_task("One-picture DAG: link and publish", total=1)
        _run_dag(dags[ONE_PICTURE_DAG_ID], airflow_log)
        progress.advance(step)

    release = _current_release(settings)
    staged_rows, findings = _extract_stats(engine, received)
    quarantined = _fate_of(engine, bad.id)
    engine.dispose()
    result = DemoResult(
        staged_rows, findings, release, time.perf_counter() - started, quarantined,
        *_linkage_quality(settings, release),
    )  # fmt: skip
    _print_summary(console, settings, result)
    return result


def _send_bad_extract(
    settings: Settings, engine: Engine, keyring: Keyring, agreement: Agreement, today: date | None
) -> Extract:
    outbox = settings.data_dir / "partners"
    good = outbox / "extracts" / f"{agreement.id}.csv"
    path = bad_extract(good, outbox / f"{agreement.id}-bad.csv")
    return _send(settings, engine, keyring, agreement, path, today)


def _send(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    agreement: Agreement,
    path: Path,
    today: date | None,
) -> Extract:
    """A partner's file received into the landing zone, as the API would."""
    with path.open("rb") as source:
        return receive_extract(
            settings,
            engine,
            keyring,
            agreement,
            sender_org=agreement.provider,
            source=source,
            source_name=path.name,
            today=today,
        )


def _fate_of(engine: Engine, extract_id: str) -> dict[str, object]:
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None:
            return {"extract_id": extract_id, "status": "missing", "report": {}}
        return {"extract_id": extract_id, "status": record.status, "report": record.report or {}}


def _print_quarantine(console: Console, bad: dict[str, object]) -> None:
    """The bad extract's fate in the words its partner's IT team would read."""
    report = bad.get("report")
    critical = report.get("critical", []) if isinstance(report, dict) else []
    console.print(
        f"Deliberately bad {BAD_AGREEMENT} extract {bad['extract_id']}: [bold]{bad['status']}[/]"
    )
    for item in critical if isinstance(critical, list) else []:
        rows = ", ".join(str(r) for r in item.get("first_rows", []))
        console.print(
            f"  {item.get('column')}: rule {item.get('rule')} ({item.get('severity')}) failed "
            f"on {item.get('count')} row(s), first rows {rows}; nothing of it was staged"
        )
    docs = report.get("data_docs") if isinstance(report, dict) else None
    if docs:
        console.print(
            f"  Data Docs: {docs} (in the quality zone; served to its partner at "
            f"/api/v1/extracts/{bad['extract_id']}/docs/ and to its data protection leads at "
            f"/agreements/{BAD_AGREEMENT}/extracts/{bad['extract_id']}/docs/)"
        )


def _linkage_quality(
    settings: Settings, release: PublishedRelease
) -> tuple[LinkageQuality, LinkageQuality]:
    """The release's linkage, and its deterministic passes alone, measured against the synthetic
    generator's ground truth (which person each extract row belongs to): possible only because
    the partnership is synthetic. The clusters are rebuilt from the deterministic passes and the
    saved probabilistic links, as the release was made."""
    inputs = release.manifest.get("inputs", [])
    linked = linked_now(
        settings,
        [
            LinkInput(
                str(item["agreement_id"]),
                str(item["extract_id"]),
                f"{item['agreement_id']}/{item['extract_id']}/{TOKENS_FILE}",
            )
            for item in (inputs if isinstance(inputs, list) else [])
        ],
        load_linkage_config(settings.contracts_dir)[0],
    )
    truth = pq.read_table(settings.data_dir / "partners" / "ground_truth" / "truth.parquet")
    return evaluate(linked.records, truth), evaluate(linked.deterministic.records, truth)


def _print_measures(console: Console, settings: Settings, release: PublishedRelease) -> None:
    """The Home Office measures of the release: sums of its published (disclosure-controlled)
    area-by-month cells, so small cells count as nothing."""
    published = zone_store(settings, "published")
    table = published.read_parquet(f"{release.release_id}/measures.parquet")
    shown = []
    for measure in HOME_OFFICE:
        cells = table.filter(pc.equal(table.column("measure"), measure)).column("value")
        shown.append(f"{DESCRIPTIONS[measure]} [bold]{int(pc.sum(cells).as_py() or 0):,}[/]")
    console.print(
        "Home Office measures (sums of the published area-by-month cells, small cells "
        "suppressed): " + "; ".join(shown) + "."
    )


def _current_release(settings: Settings) -> PublishedRelease:
    """The release the one-picture DAG published."""
    release_id = current_release(settings)
    if release_id is None:
        raise InfrastructureError("the one-picture DAG finished but no release is current")
    return load_release(settings, release_id)


def _extract_stats(
    engine: Engine, received: dict[str, str]
) -> tuple[dict[str, int], dict[str, int]]:
    staged_rows, findings = {}, {}
    with session_scope(engine) as session:
        for agreement_id, extract_id in received.items():
            record = session.get(Extract, extract_id)
            if record is None:
                raise InfrastructureError(f"extract {extract_id} vanished from the metadata store")
            staged_rows[agreement_id] = record.rows or 0
            items = (record.report or {}).get("findings", [])
            findings[agreement_id] = (
                sum(int(f["count"]) for f in items) if isinstance(items, list) else 0
            )
    return staged_rows, findings


@functools.cache
def _sink(log_file: Path) -> TextIO:
    """One append handle per log file for the life of the process: Airflow's loggers keep a
    reference to the stream they were configured with."""
    return log_file.open("a", encoding="utf-8", buffering=1)


@contextlib.contextmanager
def _captured(log_file: Path) -> Iterator[None]:
    """Send Airflow's console chatter to a log file (the privacy canary scans it too)."""
    sink = _sink(log_file)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def _run_dag(dag: object, log_file: Path, **kwargs: object) -> None:
    with _captured(log_file):
        run = dag.test(**kwargs)  # type: ignore[attr-defined]
    state = str(getattr(run, "state", "unknown"))
    if not state.endswith("success"):
        raise InfrastructureError(
            f"DAG {getattr(dag, 'dag_id', '?')} finished in state {state}",
            hint=f"see {log_file} and the hub log for the failing task",
        )


def _print_summary(console: Console, settings: Settings, result: DemoResult) -> None:
    table = Table(title="Rows per feed", show_lines=False)
    table.add_column("agreement")
    table.add_column("rows staged", justify="right")
    table.add_column("quality findings", justify="right")
    for agreement_id, n in result.rows.items():
        table.add_row(agreement_id, f"{n:,}", f"{result.findings[agreement_id]:,}")
    table.add_row("[bold]total", f"[bold]{sum(result.rows.values()):,}", "")
    console.print(table)
    release = result.release
    console.print(
        f"People linked: [bold]{release.people:,}[/] distinct people in "
        f"{release.events:,} events; [bold]{release.people_in_two_or_more_sources:,}[/] known to "
        "two or more partners."
    )
    quality, exact = result.linkage, result.deterministic
    console.print(
        f"Linkage checked against the synthetic ground truth: precision [bold]"
        f"{quality.precision:.4f}[/], recall [bold]{quality.recall:.4f}[/] over "
        f"{quality.true_pairs:,} true pairs of records; {quality.split_people:,} people split, "
        f"{quality.merged_clusters:,} clusters merging two people. The deterministic passes "
        f"alone: precision {exact.precision:.4f}, recall {exact.recall:.4f}, "
        f"{exact.split_people:,} people split."
    )
    _print_measures(console, settings, release)
    _print_quarantine(console, result.quarantined)
    published = zone_store(settings, "published")
    console.print(
        f"Release [bold]{release.release_id}[/] is at {published.uri}/{release.release_id}"
    )
    console.print(f"  manifest: {published.uri}/{release.release_id}/manifest.json")
    console.print(
        "Analysts query it through their projects (contracts/projects/): add an analyst with "
        "hub users add --role analyst, run hub serve and follow docs/analysts.md."
    )
    console.print(f"Finished in {result.seconds:.0f} s. Logs: {settings.log_dir}")
