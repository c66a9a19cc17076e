"""Benchmark: the per-extract path, sealed landing file -> validated, staged Parquet, step by step.

Processes the synthetic police feed (``contracts/police-sv.yaml``) at each ``--rows`` as the
DAG's task does (``hub.pipeline.process.process_extract``) and reports rows/s per step (decrypt
and parse, conform, pseudonymise, generalise, validate with Great Expectations, stage, Data Docs)
and in total, plus the peak memory (RSS high-water mark) of the process that ran it. In the same run
it measures a naive baseline: pandas ``read_csv``, a per-row Python ``hmac`` loop over the
identifier columns, Great Expectations on the whole frame, then ``to_parquet``.

Each measurement runs in a process of its own, so every peak is that configuration's alone.
Inputs are generated once (a police-only synthetic partnership with exactly the rows asked for)
and cached under ``--cache``; a 10M-row feed takes about two minutes to make and 2.5 GB of disk.

    uv run python bench/pipeline.py --rows 100000,1000000,10000000
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hub.settings import PROJECT_ROOT, Settings

console = Console(highlight=False, width=max(Console().width, 150))

SEED = 2025
TODAY = "2026-04-01"  # staging date: every synthetic offence date is before it
IDENTIFIERS = ("crime_reference", "person_urn", "pnc_id", "forename", "surname", "date_of_birth",
               "sex", "home_postcode")  # fmt: skip
STEPS = (
    ("read", "decrypt and parse"),
    ("conform", "conform"),
    ("pseudonymise", "pseudonymise"),
    ("generalise", "generalise"),
    ("validate", "validate (GX)"),
    ("stage", "stage (Parquet)"),
    ("data_docs", "Data Docs (HTML)"),
)
GiB = 2**30


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------------ inputs


def police_feed(cache: Path, rows: int) -> tuple[Path, Path]:
    """The police feed CSV with exactly ``rows`` rows and its postcode -> LSOA reference, made
    once per size and seed and kept under ``cache``."""
    folder = cache / f"police-{rows}-seed{SEED}"
    csv, reference = folder / "police-sv.csv", folder / "postcode_lsoa.csv"
    if csv.exists() and reference.exists():
        return csv, reference
    from hub.synth import tables
    from hub.synth.areas import build_geography, write_reference
    from hub.synth.generate import _stream
    from hub.synth.names import build_name_pools
    from hub.synth.noise import NoiseRates
    from hub.synth.police import plan_police
    from hub.synth.population import PopulationBuilder
    from hub.synth.render import Context
    from hub.synth.writer import CHUNK_ROWS, TableWriter

    started = time.perf_counter()
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    geo = build_geography()
    builder = PopulationBuilder(geo, build_name_pools(SEED), _stream(SEED, 1))
    plan = plan_police(_stream(SEED, 2), rows, builder, geo)
    ctx = Context.create(builder.build(), geo, NoiseRates())
    write_reference(geo, tmp / reference.name)
    with TableWriter(tmp / csv.name) as writer:
        for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
            part = slice(start, min(start + CHUNK_ROWS, rows))
            writer.write(tables.police(plan, part, ctx, _stream(SEED, 100, chunk)))
    tmp.replace(folder)
    console.print(
        f"[dim]generated {rows:,} police rows in {time.perf_counter() - started:.0f} s "
        f"({csv.stat().st_size / 2**20:,.0f} MiB) under {folder}[/dim]"
    )
    return csv, reference


def _settings(base: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=base / "var",
        key_dir=base / "keys",
        master_key_file=base / "master.key",
        contracts_dir=PROJECT_ROOT / "contracts",
    )


def prepare(csv: Path, reference: Path, base: Path) -> str:
    """A hub under ``base`` with the police agreement approved and the feed landed (sealed);
    returns the extract id."""
    from hub.agreements import get_agreement
    from hub.agreements.development import approve_for_development
    from hub.pipeline.landing import receive_extract
    from hub.privacy.keys import init_keyring
    from hub.store import make_engine, upgrade

    settings = _settings(base)
    settings.ensure_dirs()
    settings.reference_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(reference, settings.reference_dir / "postcode_lsoa.csv")
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    ring = init_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [agreement])
    with csv.open("rb") as source:
        extract = receive_extract(
            settings, engine, ring, agreement,
            sender_org=agreement.provider, source=source, source_name=csv.name,
        )  # fmt: skip
    engine.dispose()
    return extract.id


# ---------------------------------------------------------------------------- measured runs


def _instrument_single_threaded(timings: dict[str, float]) -> None:
    """Per-step wall times for a hub without ``stage_extract(timings=...)`` (the version before
    this benchmark), which staged in one thread: the step functions of ``hub.pipeline.stage`` are
    wrapped, and only the outermost wrapped call counts (the composite keys hash inside)."""
    import importlib

    stage: Any = importlib.import_module("hub.pipeline.stage")
    depth = [0]

    def timed(step: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    timings[step] = timings.get(step, 0.0) + time.perf_counter() - started

        return wrapper

    def timed_batches(function: Any) -> Any:
        def batches(*args: Any, **kwargs: Any) -> Any:
            source = iter(function(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    batch = next(source)
                except StopIteration:
                    return
                finally:
                    timings["read"] = timings.get("read", 0.0) + time.perf_counter() - started
                yield batch

        return batches

    normaliser_for = stage.normaliser_for
    stage.read_batches = timed_batches(stage.read_batches)
    stage.cast_field = timed("conform", stage.cast_field)
    stage.normaliser_for = lambda kind, today: timed("pseudonymise", normaliser_for(kind, today))
    stage.keyed_hash_chain = timed("pseudonymise", stage.keyed_hash_chain)
    processor = stage._BatchProcessor
    processor._composite = timed("pseudonymise", processor._composite)
    processor._staged_value = timed("generalise", processor._staged_value)
    writer = stage._AtomicParquet
    writer.write = timed("stage", writer.write)
    writer.commit = timed("stage", writer.commit)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _digest(path: Any) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _validate(settings: Settings, agreement: Any, result: Any) -> dict[str, Any] | None:
    """Validate the staged output with the hub's Great Expectations suite, as
    ``hub.pipeline.process`` does after staging (None if this hub has no ``hub.quality``)."""
    from datetime import date

    try:
        from hub.quality.suites import effective_suite, expectations_dir_for
        from hub.quality.validate import validate_staged
    except ImportError:
        return None
    rows = 500_000  # hub.pipeline.process.BATCH_ROWS
    cpu = _cpu_seconds()
    started = time.perf_counter()
    suite = effective_suite(agreement, expectations_dir_for(settings.contracts_dir))
    outcome = validate_staged(
        agreement,
        result.staged_path.parquet_file(pre_buffer=False).iter_batches(batch_size=rows),
        suite,
        tokens=result.tokens_path.parquet_file(pre_buffer=False).iter_batches(batch_size=rows),
        arrival_date=date.fromisoformat(TODAY),
        run_name=result.extract_id,
    )
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu_seconds() - cpu,
        "peak": _peak_bytes(),
        "findings": len(outcome.findings),
        "critical": bool(outcome.critical),
    }


def _start_up() -> dict[str, float]:
    """What a fresh task process does once before its first extract, timed: import Great
    Expectations, and load the compiled keyed-hash kernel from numba's cache (with its
    known-answer test). Both are per process, not per extract or row, so they are reported
    beside the totals; the naive baseline also imports GX outside its timing."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        from hub.quality.engine import quiet_gx
    except ImportError:
        return seconds
    quiet_gx()
    import great_expectations  # noqa: F401

    seconds["import Great Expectations"] = time.perf_counter() - started
    started = time.perf_counter()
    warm_up()
    seconds["load the compiled HMAC kernel"] = time.perf_counter() - started
    return seconds


def run_hub(base: Path, extract_id: str, validate: bool = False) -> dict[str, Any]:
    """Process the landed extract in this process as the DAG's task does (``process_extract``:
    staging with the GX validation as it writes, then the Data Docs); its step timings, CPU
    seconds and peak RSS. A hub from before validation ran inside staging stages only (and,
    with ``validate``, then validates what it staged)."""
    import importlib
    import inspect
    from datetime import date

    from hub.agreements import get_agreement
    from hub.pipeline.stage import stage_extract
    from hub.privacy.keys import open_keyring
    from hub.store import make_engine

    settings = _settings(base)
    engine = make_engine(settings.metadata_url)
    ring = open_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, "police-sv")
    for zone in ("staging", "linkage"):  # a fresh staging: no earlier output to replace
        shutil.rmtree(settings.zone(zone) / agreement.id / extract_id, ignore_errors=True)
    timings: dict[str, float] = {}
    kwargs: dict[str, Any] = {"today": date.fromisoformat(TODAY)}
    run: Any = stage_extract
    try:
        process: Any = importlib.import_module("hub.pipeline.process").process_extract
    except ImportError:  # a hub from before validation
        process = None
    in_stream = process is not None and "timings" in inspect.signature(process).parameters
    if in_stream:
        run = process
    threaded = "timings" in inspect.signature(run).parameters
    if threaded:
        kwargs["timings"] = timings
    else:
        _instrument_single_threaded(timings)
    start_up = _start_up() if in_stream else {}
    before, cpu = _peak_bytes(), _cpu_seconds()
    started = time.perf_counter()
    result = run(settings, engine, ring, agreement, extract_id, **kwargs)
    wall = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    peak = _peak_bytes()
    timings.setdefault("total", wall)
    timings["total"] = wall  # process_extract's total: staging, validation and Data Docs
    staged = result.staged if in_stream else result
    if staged is None:
        raise RuntimeError(f"the benchmark feed was quarantined: {result.report.get('critical')}")
    report = json.dumps(staged.report, sort_keys=True).encode()
    validation = _validate(settings, agreement, staged) if validate and not in_stream else None
    return {
        "validation": validation,
        "in_stream": in_stream,
        "start_up": start_up,
        "rows": staged.rows,
        "timings": timings,
        "cpu_time": "thread CPU" if threaded else "wall (one thread)",
        "cpu": cpu,
        "peak": peak,
        "peak_before": before,
        "digests": {p.name: _digest(p) for p in (staged.staged_path, staged.tokens_path)},
        "report": hashlib.sha256(report).hexdigest(),
    }


def _expectations(gx: Any) -> list[Any]:
    """A small suite of the kinds an agreement generates: not null, value set, regex."""
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="crime_reference"),
        e.ExpectColumnValuesToNotBeNull(column="person_urn"),
        e.ExpectColumnValuesToNotBeNull(column="offence_date"),
        e.ExpectColumnValuesToBeInSet(column="involvement", value_set=["Victim", "Suspect"]),
        e.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F", "U"], mostly=0.95),
        e.ExpectColumnValuesToMatchRegex(column="offence_date", regex=r"^\d{4}-\d{2}-\d{2}$"),
        e.ExpectColumnValuesToMatchRegex(column="offence_time", regex=r"^\d{2}:\d{2}$"),
    ]


def run_baseline(csv: Path, out: Path) -> dict[str, Any]:
    """The naive path: pandas ``read_csv`` of the plaintext CSV (no decryption: a favour to the
    baseline), a per-row Python ``hmac`` over every identifier column, GX (its defaults, progress
    bars off) on the whole frame, ``to_parquet``."""
    import logging

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import pandas as pd  # type: ignore[import-untyped]
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    timings: dict[str, float] = {}
    cpu = _cpu_seconds()
    started = clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    frame = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
    lap("read")
    key = hashlib.sha256(b"bench").digest()
    for column in IDENTIFIERS:
        frame[column] = [
            None if v is None or v != v else hmac.new(key, v.encode(), hashlib.sha256).hexdigest()
            for v in frame[column]
        ]
    lap("pseudonymise")
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("police")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name="police-naive")
    for expectation in _expectations(gx):
        suite.add_expectation(expectation)
    validation = batch.validate(suite)
    lap("validate")
    frame.to_parquet(out, compression="zstd")
    lap("stage")
    timings["total"] = time.perf_counter() - started
    return {
        "rows": len(frame),
        "timings": timings,
        "cpu": _cpu_seconds() - cpu,
        "peak": _peak_bytes(),
        "gx_success": bool(validation.success),
    }


def warm_up() -> None:
    """Compile the keyed-hash kernel into numba's on-disk cache, as a deployed hub has it."""
    from hub.privacy import hmac_batch

    hmac_batch._compiled_backend()


# ------------------------------------------------------------------------------ orchestration


def _machine_busy() -> float:
    """CPU seconds every process on the machine has used so far (from /proc/stat)."""
    with Path("/proc/stat").open(encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _worker(task: str, tree: Path | None, **args: Any) -> dict[str, Any]:
    """Run ``task`` in a fresh process (its own peak RSS); ``tree``: another hub source tree."""
    with tempfile.TemporaryDirectory(prefix="bench-result-") as tmp:
        out = Path(tmp) / "result.json"
        given = json.dumps({k: str(v) for k, v in args.items()})
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--worker", task, "--out", str(out), "--args", given]
        env = dict(os.environ)
        if tree is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(":")
        busy = _machine_busy()
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=tree or PROJECT_ROOT)
        elapsed = time.perf_counter() - started
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        result["others_cpu"] = max(0.0, _machine_busy() - busy - float(result.get("cpu", 0.0)))
        result["process_seconds"] = elapsed
        return result


def _worker_main(task: str, out: Path, args: dict[str, str]) -> None:
    if task == "prepare":
        extract_id = prepare(Path(args["csv"]), Path(args["reference"]), Path(args["base"]))
        result: dict[str, Any] = {"extract_id": extract_id}
    elif task == "hub":
        result = run_hub(Path(args["base"]), args["extract_id"], args.get("validate") == "True")
    elif task == "baseline":
        result = run_baseline(Path(args["csv"]), Path(args["out"]))
    elif task == "warm":
        warm_up()
        result = {}
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(task)
    out.write_text(json.dumps(result), encoding="utf-8")


def _before_tree(cache: Path, ref: str) -> Path:
    """The hub source at git ``ref`` (``git archive``: the working tree is not touched)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=PROJECT_ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    tree = cache / f"hub-{commit}"
    if not (tree / "hub").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "hub", "contracts"], cwd=PROJECT_ROOT, check=True,
            capture_output=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _stage_size(
    cache: Path, rows: int, trees: dict[str, Path | None], reruns: int
) -> dict[str, list[dict[str, Any]]]:
    """Land the feed of ``rows`` rows once, then stage it ``reruns`` times with the hub of each
    tree (all with the same keys, so their outputs can be compared byte for byte)."""
    csv, reference = police_feed(cache, rows)
    with tempfile.TemporaryDirectory(prefix="bench-hub-", dir=cache) as tmp:
        base = Path(tmp)
        landed = _worker("prepare", None, csv=csv, reference=reference, base=base)
        return {
            label: [
                _worker(
                    "hub", tree, base=base, extract_id=landed["extract_id"],
                    validate=tree is None and run == 0,
                )
                for run in range(reruns)
            ]
            for label, tree in trees.items()
        }  # fmt: skip


# ------------------------------------------------------------------------------------ output


def _rate(rows: int, seconds: float | None) -> str:
    if not seconds:
        return "-"
    return f"{rows / seconds:,.0f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(rows: int, runs: dict[str, dict[str, Any]], naive: dict[str, Any]) -> Table:
    naive_rows = int(naive["rows"])
    title = f"police-sv, {rows:,} rows"
    if naive_rows != rows:
        title += f" (naive baseline measured at {naive_rows:,} rows: rows/s comparable)"
    table = Table(title=title, title_justify="left")
    table.add_column("step")
    for label in runs:
        table.add_column(f"{label} s", justify="right")
        table.add_column(f"{label} rows/s", justify="right")
    table.add_column("naive s", justify="right")
    table.add_column("naive rows/s", justify="right")
    naive_steps = {"read": "read", "pseudonymise": "pseudonymise", "validate": "validate",
                   "stage": "stage"}  # fmt: skip
    for step, label in STEPS:
        cells = []
        for run in runs.values():
            seconds = run["timings"].get(step)
            if step == "validate" and not seconds:
                validation = run.get("validation")
                if validation:
                    cells += [
                        f"({validation['seconds']:.2f})",
                        f"({_rate(rows, validation['seconds'])})",
                    ]
                else:
                    cells += ["not run", "-"]
                continue
            cells += [_seconds(seconds), _rate(rows, seconds)]
        naive_seconds = naive["timings"].get(naive_steps.get(step, ""))
        cells += [_seconds(naive_seconds), _rate(naive_rows, naive_seconds)]
        table.add_row(label, *cells)
    cells = []
    for run in runs.values():
        cells += [_seconds(run["timings"]["total"]), _rate(rows, run["timings"]["total"])]
    total = naive["timings"]["total"]
    table.add_row(
        "[bold]total (wall clock)[/bold]", *cells, _seconds(total), _rate(naive_rows, total)
    )
    cells = []
    for run in runs.values():
        cells += [f"{run['cpu']:.1f} CPU-s", f"{run['peak'] / GiB:.2f} GiB peak"]
    table.add_row(
        "process", *cells, f"{naive['cpu']:.1f} CPU-s", f"{naive['peak'] / GiB:.2f} GiB peak"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", default="100000,1000000,10000000", help="comma-separated feed sizes (rows)"
    )
    parser.add_argument(
        "--naive-max-rows",
        type=int,
        default=1_000_000,
        help="measure the naive baseline at no more rows than this (its memory grows fast)",
    )
    parser.add_argument(
        "--before",
        metavar="GIT_REF",
        help="also stage with the hub at this commit, for a before/after table",
    )
    parser.add_argument(
        "--reruns",
        type=int,
        default=2,
        help="stage each feed this many times (the fastest is shown; all must give the same bytes)",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "hub-bench-pipeline"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument(
        "--worker", choices=["prepare", "hub", "baseline", "warm"], help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker_main(args.worker, args.out, json.loads(args.args))
        return
    sizes = [int(size.replace("_", "")) for size in args.rows.split(",")]
    args.cache.mkdir(parents=True, exist_ok=True)
    trees: dict[str, Path | None] = {"hub": None}
    if args.before:
        trees = {f"before ({args.before})": _before_tree(args.cache, args.before), "after": None}
    for tree in trees.values():
        _worker("warm", tree)
    results: dict[str, Any] = {}
    for rows in sizes:
        runs: dict[str, dict[str, Any]] = {}
        staged = _stage_size(args.cache, rows, trees, max(1, args.reruns))
        for label, measured in staged.items():
            digests = {json.dumps(m["digests"], sort_keys=True) + m["report"] for m in measured}
            best = min(measured, key=lambda m: m["timings"]["total"])
            best["validation"] = measured[0].get("validation")
            best["identical_reruns"] = len(digests) == 1
            best["all_totals"] = [m["timings"]["total"] for m in measured]
            runs[label] = best
        naive_csv, _ = police_feed(args.cache, min(rows, args.naive_max_rows))
        naive = _worker("baseline", None, csv=naive_csv, out=args.cache / "naive.parquet")
        (args.cache / "naive.parquet").unlink(missing_ok=True)
        console.print(_table(rows, runs, naive))
        for label, run in runs.items():
            total = run["timings"]["total"]
            ratio = (naive["rows"] / naive["timings"]["total"]) / (rows / total)
            what = "staged and validated" if run.get("in_stream") else "staged only"
            console.print(
                f"  {label} ({what}): {rows / total:,.0f} rows/s = {1 / ratio:.1f}x the naive "
                f"baseline; peak RSS {run['peak'] / GiB:.2f} GiB; reruns "
                f"{'byte-identical' if run['identical_reruns'] else 'DIFFER'} "
                f"({', '.join(f'{t:.1f} s' for t in run['all_totals'])}); other processes used "
                f"{run['others_cpu']:.1f} CPU-s meanwhile"
            )
            if run.get("start_up"):
                steps = ", ".join(f"{k} {v:.1f} s" for k, v in run["start_up"].items())
                console.print(
                    f"  {label}: before its first extract, a fresh task process takes "
                    f"{sum(run['start_up'].values()):.1f} s ({steps}); not in the totals"
                )
            validation = run.get("validation")
            if validation:
                both = total + validation["seconds"]
                console.print(
                    f"  {label}, then validated (GX, hub.quality; after staging, on the staged "
                    f"Parquet): {validation['seconds']:.1f} s, {validation['findings']} findings, "
                    f"peak RSS {validation['peak'] / GiB:.2f} GiB; staging and validation "
                    f"{rows / both:,.0f} rows/s"
                )
        if len(runs) == 2:
            first, second = runs.values()
            same = first["digests"] == second["digests"] and first["report"] == second["report"]
            outcome = "the same bytes and report" if same else "DIFFERENT outputs"
            console.print(f"  before and after: {outcome}")
        results[str(rows)] = {"runs": runs, "naive": naive}
    console.print(
        "[dim]The hub's total is hub.pipeline.process.process_extract, as the DAG task runs it: "
        "sealed landing file to staged Parquet, validated with GX as it is written, and the Data "
        "Docs; a fresh task process's one-off start-up (importing GX, loading the compiled HMAC "
        "kernel) is shown apart. Step seconds are CPU seconds of the thread that ran the step "
        "(reading, hashing, writing and validating run in threads of their own, overlapped), so "
        "they can add up to "
        "more than the wall-clock total; a version that stages in one thread shows wall seconds. "
        "rows/s of a step = rows / its seconds. A hub from before validation ran inside staging: "
        "validate in brackets, its wall seconds on the staged Parquet afterwards, not in its "
        "total.[/dim]"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
