"""Benchmark: what object storage (S3) costs the hub against local folders, in the same run.

Every zone of the hub (landing, staging, linkage, published, quarantine, quality) is reached
through ``hub.storage.zone_store``: a folder under the data directory (``HUB_STORAGE=local``) or a
bucket per zone (``HUB_STORAGE=s3``). This measures the same work on both, side by side:

1. Raw zone I/O, on a file of ``--mib`` MiB of random bytes and on random (incompressible)
   Parquet: ``put_file`` of the file into the staging zone, ``get_file`` of it back,
   ``mirror`` of a release-like folder of five Parquet files totalling ``--mib`` MiB (event,
   person, place, measures, measure_counts, as a release has) from the published zone into a
   fresh cache, and ``read_parquet`` of one Parquet file of ``--mib`` MiB. Throughput in MiB/s.
   Locally ``put_file`` is a rename (the hub writes in its work folder on the same disk) and
   ``mirror`` returns the zone's own folder: nothing is copied, so those have no S3/local ratio.
2. The hub's own path, on one synthetic police-sv extract of ``--rows`` rows
   (``hub.synth.generate_partnership`` with the total that gives exactly that many police rows;
   only the police file is used): ``receive_extract`` (seal into the landing zone), then
   ``process_extract`` as the DAG's task runs it (decrypt, conform, pseudonymise, validate with
   Great Expectations, stage into the staging and linkage zones, Data Docs into the quality zone),
   then ``publish_release`` (link and publish into the published zone; skip it with
   ``--skip-publish``). Throughput in rows/s. A fresh process's one-off start-up (importing Great
   Expectations, loading the compiled HMAC kernel) is done before the timing.

Each measurement runs in a process of its own, so its peak memory is its own (``VmHWM`` from
``/proc/self/status``, imports included; "op MiB" is how far the operation raised it). The I/O
operations are run ``--repeats`` times and staging ``--stage-runs`` times, local and S3
alternating, and the fastest run is shown (peak: the highest of the runs). Receiving and
publishing run once (a second run would find the same extract or release and do nothing).

The S3 server is moto's standalone server (``tests/s3_server.py``), started as a process of its
own on 127.0.0.1 with one bucket per zone. moto is a Python server on the same machine, sharing
its CPUs with the hub and holding every request in Python: it is a pessimistic stand-in for
MinIO or S3, so the S3/local ratios are upper bounds. Its CPU seconds and peak memory during each
operation are shown beside the hub's (its peak is reset before each operation through
``/proc/<pid>/clear_refs`` where the kernel allows it). Local files are read from the OS page
cache after they were written, as moto's are.

The table, a row per operation and storage: seconds (the fastest run); throughput (MiB/s of the
file or folder, rows/s of the extract's police rows); peak MiB (the process's VmHWM); op MiB (how
far the timed operation raised it above what imports and set-up had reached); CPU s (the
measuring process's CPU seconds, all threads, during the operation); moto CPU s and moto peak MiB
(the S3 server's over the same span); S3/local time and peak (the S3 row's seconds and peak over
the local row's). Notes below it give the inputs' sizes, staging's split between the staged
tables and the Data Docs, and the time of the server-side copy inside S3 ``put_file``.

Everything it makes (a temporary folder, the buckets, the moto process) is removed at the end;
with ``--cache`` the generated inputs are kept there for the next run. Other work on the machine
slows every figure: the load average before and after is printed.

    uv run python bench/storage.py --mib 8 --rows 20000      # a quick look
    uv run python bench/storage.py                           # 256 MiB, 1,000,000 police rows
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.settings import PROJECT_ROOT, ZONES, Settings

console = Console(highlight=False, width=max(Console().width, 150))

T = TypeVar("T")
SEED = 2025
TODAY = "2026-04-01"  # staging date: every synthetic offence date is before it
MiB = 2**20
KINDS = ("local", "s3")
IO_PREFIX = "bench-io"  # where the raw I/O files go inside a zone
BLOB = "blob.bin"
TABLE = "table.parquet"
# a release-like folder: its tables' shares of --mib (hub.publication.release writes these)
RELEASE = (("event.parquet", 0.70), ("person.parquet", 0.15), ("place.parquet", 0.08),
           ("measures.parquet", 0.05), ("measure_counts.parquet", 0.02))  # fmt: skip
POLICE = "police-sv"


# ------------------------------------------------------------------------------ measuring


def _status_kib(pid: int | str, key: str) -> int | None:
    """A ``/proc/<pid>/status`` value in KiB (None when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_bytes() -> int:
    """This process's peak RSS since it started: ``VmHWM`` (``ru_maxrss`` would carry the
    parent's high-water mark over into a child)."""
    kib = _status_kib("self", "VmHWM")
    if kib is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return kib * 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds another process has used so far (user and system, all its threads)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int | None) -> bool:
    """Reset another process's ``VmHWM`` to its current RSS (``clear_refs`` 5), if allowed."""
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _measure(run: Callable[[], T], server: int | None) -> tuple[T, dict[str, Any]]:
    """``run()`` timed: wall and CPU seconds, this process's peak before and after, and the S3
    server's CPU seconds and peak over the same span (when it is given)."""
    before = _peak_bytes()
    server_peak = _reset_peak(server)
    server_cpu = _process_cpu(server)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - started
    stats: dict[str, Any] = {
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu,
        "peak": _peak_bytes(),
        "peak_before": before,
    }
    after = _process_cpu(server)
    if server_cpu is not None and after is not None:
        stats["server_cpu"] = after - server_cpu
    if server_peak and server is not None:
        kib = _status_kib(server, "VmHWM")
        stats["server_peak"] = None if kib is None else kib * 1024
    return value, stats


# ------------------------------------------------------------------------------ the inputs


def police_total(police_rows: int) -> tuple[int, int]:
    """The partnership total for ``generate_partnership(rows=...)`` that gives ``police_rows``
    police-sv rows (it splits a total across the five feeds; police is about 83%), and the
    police rows it gives: exactly those asked for unless the split cannot."""
    from hub.synth.volumes import DEFAULT_TOTAL, FEEDS, MAX_ROWS, MIN_ROWS, planned_rows

    estimate = math.ceil(police_rows * DEFAULT_TOTAL / FEEDS[POLICE][0])
    for total in range(max(MIN_ROWS, estimate - 3), min(MAX_ROWS, estimate + 4) + 1):
        police = planned_rows(total)[POLICE]
        if police >= police_rows:
            return total, police
    most = planned_rows(MAX_ROWS)[POLICE]
    least = planned_rows(MIN_ROWS)[POLICE]
    raise SystemExit(f"--rows must be between {least:,} and {most:,} police rows")


def _random_parquet(path: Path, size: int, seed: int) -> int:
    """A Parquet file of about ``size`` bytes of random numbers (zstd cannot shrink them), written
    a million rows (32 MiB) at a time; its rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    rows = max(1, size // 32)  # four 8-byte columns
    schema = pa.schema([("id", pa.int64()), ("when", pa.int64()), ("x", pa.float64()),
                        ("y", pa.float64())])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=False) as writer:
        for start in range(0, rows, 1 << 20):
            n = min(1 << 20, rows - start)
            ints = rng.integers(-(2**62), 2**62, size=(2, n))
            floats = rng.random((2, n))
            writer.write_table(
                pa.table([ints[0], ints[1], floats[0], floats[1]], schema=schema),
                row_group_size=n,
            )
    return rows


def make_inputs(folder: Path, mib: int, police_rows: int, seed: int) -> dict[str, Any]:
    """The files the runs read, made once per size and seed under ``folder``: ``blob.bin``
    (random bytes), ``table.parquet``, ``release/`` (five Parquet files) and the synthetic
    partnership under ``partners/``."""
    marker = folder / "inputs.json"
    if marker.exists():
        made: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        return {**made, "reused": True}
    from hub.synth import generate_partnership

    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with (folder / BLOB).open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MiB))
    table_rows = _random_parquet(folder / TABLE, mib * MiB, seed)
    for number, (name, share) in enumerate(RELEASE):
        _random_parquet(folder / "release" / name, int(mib * MiB * share), seed + 1 + number)
    io_seconds = time.perf_counter() - started
    started = time.perf_counter()
    total, police = police_total(police_rows)
    summary = generate_partnership(folder / "partners", seed=seed, rows=total)
    made = {
        "blob_bytes": (folder / BLOB).stat().st_size,
        "table_bytes": (folder / TABLE).stat().st_size,
        "table_rows": table_rows,
        "release_bytes": sum(p.stat().st_size for p in (folder / "release").iterdir()),
        "io_seconds": io_seconds,
        "partnership_total": total,
        "police_rows": police,
        "police_csv": str(summary.files[POLICE]),
        "police_bytes": summary.files[POLICE].stat().st_size,
        "reference": str(summary.files["reference"]),
        "partnership_seconds": time.perf_counter() - started,
    }
    marker.write_text(json.dumps(made), encoding="utf-8")
    return made


# ----------------------------------------------------------------------- the hubs' settings


def _settings(args: dict[str, str]) -> Settings:
    """An isolated hub under ``base``: its zones local folders, or the buckets
    ``<prefix>-<zone>`` of the S3 server at ``endpoint``; metadata, keys and work folder on the
    local disk either way."""
    base = Path(args["base"])
    s3 = args["kind"] == "s3"
    return Settings(
        env="test",
        pipeline_trigger="none",
        data_dir=base / "var",
        key_dir=base / "keys",
        master_key_file=base / "secrets" / "master.key",
        contracts_dir=PROJECT_ROOT / "contracts",
        storage="s3" if s3 else "local",
        s3_endpoint_url=args["endpoint"] if s3 else None,
        s3_bucket_prefix=args["prefix"],
        s3_access_key_id=args["access_key"] if s3 else None,
        s3_secret_access_key=args["secret_key"] if s3 else None,
    )


# ---------------------------------------------------------------------------- raw zone I/O


def seed_zones(settings: Settings, inputs: Path) -> dict[str, Any]:
    """Put what ``get_file``, ``mirror`` and ``read_parquet`` read into the zones (untimed)."""
    from hub.storage import zone_store

    settings.ensure_dirs()
    staging, published = zone_store(settings, "staging"), zone_store(settings, "published")
    for store, source, target in [
        (staging, inputs / BLOB, f"{IO_PREFIX}/{BLOB}"),
        (staging, inputs / TABLE, f"{IO_PREFIX}/{TABLE}"),
        *[(published, inputs / "release" / n, f"{IO_PREFIX}/release/{n}") for n, _ in RELEASE],
    ]:
        copy = settings.work_dir / f"seed-{uuid.uuid4().hex}"
        shutil.copyfile(source, copy)
        store.put_file(target, copy)
    return {}


def run_put(settings: Settings, inputs: Path, server: int | None) -> dict[str, Any]:
    """``put_file`` of the blob into the staging zone, from a copy in the work folder (made
    untimed: ``put_file`` takes the file away). On S3 the server-side copy that ``put_file``
    makes of the uploaded object is then timed alone, for information."""
    from hub.storage import zone_store

    store = zone_store(settings, "staging")
    local = settings.work_dir / f"put-{uuid.uuid4().hex}"
    shutil.copyfile(inputs / BLOB, local)
    target = f"{IO_PREFIX}/put-{BLOB}"
    _, stats = _measure(lambda: store.put_file(target, local), server)
    if store.size(target) != (inputs / BLOB).stat().st_size:
        raise RuntimeError("put_file stored a different size")
    if store.kind == "s3":
        full = f"{store.root}/{target}"
        started = time.perf_counter()
        store.fs.copy_file(full, full + ".copy")
        stats["server_copy"] = time.perf_counter() - started
        store.delete(f"{target}.copy")
    store.delete(target)
    return stats


def run_get(settings: Settings, inputs: Path, server: int | None) -> dict[str, Any]:
    """``get_file`` of the blob from the staging zone into the work folder."""
    from hub.storage import zone_store

    store = zone_store(settings, "staging")
    local = settings.work_dir / f"get-{uuid.uuid4().hex}"
    _, stats = _measure(lambda: store.get_file(f"{IO_PREFIX}/{BLOB}", local), server)
    if local.stat().st_size != (inputs / BLOB).stat().st_size:
        raise RuntimeError("get_file gave a different size")
    local.unlink()
    return stats


def run_mirror(settings: Settings, inputs: Path, server: int | None) -> dict[str, Any]:
    """``mirror`` of the release-like folder of the published zone, into a fresh cache."""
    from hub.storage import zone_store

    store = zone_store(settings, "published")
    cache = settings.cache_dir / f"run-{uuid.uuid4().hex}"
    folder, stats = _measure(lambda: store.mirror(f"{IO_PREFIX}/release", cache), server)
    got = sum(p.stat().st_size for p in folder.iterdir())
    if got != sum(p.stat().st_size for p in (inputs / "release").iterdir()):
        raise RuntimeError("mirror gave a different folder")
    shutil.rmtree(cache, ignore_errors=True)
    return stats


def run_read(settings: Settings, inputs: Path, server: int | None) -> dict[str, Any]:
    """``read_parquet`` of the Parquet file of the staging zone, whole, into memory."""
    from hub.storage import zone_store

    store = zone_store(settings, "staging")
    import pyarrow.dataset  # noqa: F401  (read_table imports it on first use: not the read's cost)

    table, stats = _measure(lambda: store.read_parquet(f"{IO_PREFIX}/{TABLE}"), server)
    stats["rows"] = table.num_rows
    return stats


def clear_io(settings: Settings) -> dict[str, Any]:
    """Remove the raw I/O files from the zones (so the hub's path runs on clean zones)."""
    from hub.storage import zone_store

    for zone in ("staging", "published"):
        zone_store(settings, zone).delete_tree(IO_PREFIX)
    return {}


# ------------------------------------------------------------------------- the hub's path


def _start_up() -> None:
    """What a fresh task process does once before its first extract: import Great Expectations
    and load the compiled keyed-hash kernel (compiled into numba's cache on first use)."""
    from hub.privacy import hmac_batch
    from hub.quality.engine import quiet_gx

    quiet_gx()
    import great_expectations  # noqa: F401

    hmac_batch._compiled_backend()


def hub_init(settings: Settings, reference: Path) -> dict[str, Any]:
    """A fresh hub: zones, metadata, keyring, the postcode reference, police-sv approved."""
    from hub.agreements import get_agreement
    from hub.agreements.development import approve_for_development
    from hub.privacy.keys import init_keyring
    from hub.store import make_engine, upgrade

    settings.ensure_dirs()
    settings.reference_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(reference, settings.reference_dir / "postcode_lsoa.csv")
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    init_keyring(settings)
    approve_for_development(settings, engine, [get_agreement(settings.contracts_dir, POLICE)])
    engine.dispose()
    _start_up()  # the kernel compiled once here, so no timed run pays for compiling it
    return {}


def run_receive(settings: Settings, csv: Path, server: int | None) -> dict[str, Any]:
    """``receive_extract`` of the police file, as the partner API does: sealed as it is read,
    then put into the landing zone."""
    from hub.agreements import get_agreement
    from hub.pipeline.landing import receive_extract
    from hub.privacy.keys import open_keyring
    from hub.store import make_engine

    engine = make_engine(settings.metadata_url)
    ring = open_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, POLICE)
    with csv.open("rb") as source:
        extract, stats = _measure(
            lambda: receive_extract(
                settings, engine, ring, agreement,
                sender_org=agreement.provider, source=source, source_name=csv.name,
            ),
            server,
        )  # fmt: skip
    engine.dispose()
    stats["extract_id"] = extract.id
    return stats


def run_stage(settings: Settings, extract_id: str, server: int | None) -> dict[str, Any]:
    """``process_extract`` of the received extract as the DAG's task runs it, after removing an
    earlier run's outputs (untimed)."""
    from datetime import date

    from hub.agreements import get_agreement
    from hub.pipeline.process import process_extract
    from hub.privacy.keys import open_keyring
    from hub.storage import zone_store
    from hub.store import make_engine

    engine = make_engine(settings.metadata_url)
    ring = open_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, POLICE)
    for zone in ("staging", "linkage"):
        zone_store(settings, zone).delete_tree(f"{POLICE}/{extract_id}")
    _start_up()
    timings: dict[str, float] = {}
    result, stats = _measure(
        lambda: process_extract(
            settings, engine, ring, agreement, extract_id,
            today=date.fromisoformat(TODAY), timings=timings,
        ),
        server,
    )  # fmt: skip
    engine.dispose()
    if result.status != "staged":
        raise RuntimeError(f"the benchmark extract was {result.status}")
    stats.update(rows=result.rows, timings=timings)
    return stats


def run_publish(settings: Settings, server: int | None) -> dict[str, Any]:
    """``publish_release``: link the staged extract and publish a release (the libraries it
    imports on first use, DuckDB and splink, imported before the timing)."""
    import duckdb  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import splink.comparison_level_library
    import splink.comparison_library  # noqa: F401

    from hub.agreements import load_agreements
    from hub.privacy.keys import open_keyring
    from hub.publication.release import publish_release
    from hub.store import make_engine

    engine = make_engine(settings.metadata_url)
    ring = open_keyring(settings)
    agreements = load_agreements(settings.contracts_dir)
    release, stats = _measure(lambda: publish_release(settings, engine, ring, agreements), server)
    engine.dispose()
    stats.update(events=release.events, people=release.people)
    return stats


# ------------------------------------------------------------------------------ orchestration


TASKS: dict[str, Callable[[dict[str, str], int | None], dict[str, Any]]] = {
    "inputs": lambda a, _: make_inputs(
        Path(a["folder"]), int(a["mib"]), int(a["rows"]), int(a["seed"])
    ),
    "seed": lambda a, _: seed_zones(_settings(a), Path(a["folder"])),
    "put": lambda a, s: run_put(_settings(a), Path(a["folder"]), s),
    "get": lambda a, s: run_get(_settings(a), Path(a["folder"]), s),
    "mirror": lambda a, s: run_mirror(_settings(a), Path(a["folder"]), s),
    "read": lambda a, s: run_read(_settings(a), Path(a["folder"]), s),
    "clear": lambda a, _: clear_io(_settings(a)),
    "init": lambda a, _: hub_init(_settings(a), Path(a["reference"])),
    "receive": lambda a, s: run_receive(_settings(a), Path(a["csv"]), s),
    "stage": lambda a, s: run_stage(_settings(a), a["extract_id"], s),
    "publish": lambda a, s: run_publish(_settings(a), s),
}


@dataclass
class Run:
    """What the parent needs to start workers: the scratch folder, the timeout, the S3 server."""

    scratch: Path
    timeout: float
    hubs: dict[str, dict[str, str]]  # kind -> the settings arguments of its hub
    server: int | None  # the S3 server's process id

    def worker(self, task: str, kind: str | None = None, **args: Any) -> dict[str, Any]:
        """Run ``task`` in a fresh process (its own peak memory); a run past the timeout is
        stopped and reported as such, a failed one with the end of its error output."""
        given = {k: str(v) for k, v in args.items()}
        if kind is not None:
            given.update(self.hubs[kind])
            if kind == "s3" and self.server is not None:
                given["server"] = str(self.server)
        out = self.scratch / f"result-{uuid.uuid4().hex}.json"
        log = self.scratch / f"worker-{task}.log"
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--worker", task, "--out", str(out), "--args",
                   json.dumps(given)]  # fmt: skip
        started = time.perf_counter()
        with log.open("wb") as errors:
            try:
                subprocess.run(command, check=True, stdout=errors, stderr=errors,
                               cwd=self.scratch, timeout=self.timeout)  # fmt: skip
            except subprocess.TimeoutExpired:
                return {"timed_out": True, "seconds": time.perf_counter() - started}
            except subprocess.CalledProcessError as exc:
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
                console.print(f"[red]{task} ({kind or '-'}) failed:[/red]\n" + "\n".join(tail))
                return {"failed": exc.returncode, "seconds": time.perf_counter() - started}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        result["process_seconds"] = time.perf_counter() - started  # start-up and set-up too
        out.unlink()
        return result


def _worker_main(task: str, out: Path, args: dict[str, str]) -> None:
    server = int(args["server"]) if args.get("server") else None
    result = TASKS[task](args, server)
    out.write_text(json.dumps(result), encoding="utf-8")


def _server_pid() -> int | None:
    """The process id of the moto server this process started (a child running moto.server)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()[1]
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if parent == me and b"moto.server" in command:
            return int(stat.parent.name)
    return None


@contextmanager
def s3_buckets() -> Iterator[tuple[str, str, dict[str, str]]]:
    """moto's S3 server in a process of its own with a bucket per zone; yields its endpoint,
    the bucket prefix and the credentials. The buckets and the server are gone afterwards."""
    sys.path.insert(0, str(PROJECT_ROOT))  # tests/ is not installed
    from tests.s3_server import ACCESS_KEY, SECRET_KEY, drop_buckets, make_buckets, s3_server

    prefix = f"bench{uuid.uuid4().hex[:10]}"
    buckets = [f"{prefix}-{zone}" for zone in ZONES]
    with s3_server() as endpoint:
        make_buckets(endpoint, buckets)
        try:
            yield endpoint, prefix, {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
        finally:
            drop_buckets(endpoint, buckets)


@dataclass
class Step:
    """One measured operation on both storages: how much work one run is, and the runs."""

    label: str
    unit: str  # MiB or rows
    amount: float
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def best(self, kind: str) -> dict[str, Any] | None:
        """The fastest good run, its peak the highest of the good runs (None if none was)."""
        good = [r for r in self.runs[kind] if _ok(r)]
        if not good:
            return None
        best = dict(min(good, key=lambda r: r["seconds"]))
        best["peak"] = max(r["peak"] for r in good)
        best["all_seconds"] = [r["seconds"] for r in good]
        return best


def _ok(run: dict[str, Any]) -> bool:
    return not run.get("timed_out") and run.get("failed") is None


def measure_all(
    run: Run, args: argparse.Namespace, inputs: Path
) -> tuple[list[Step], dict[str, Any]]:
    """Every measurement, in order, with a progress bar; the inputs made first (and returned:
    what they are)."""
    repeats, stage_runs = max(1, args.repeats), max(1, args.stage_runs)
    io = (("put", "put_file"), ("get", "get_file"), ("mirror", "mirror (5 files)"),
          ("read", "read_parquet"))  # fmt: skip
    total = (1 + 2 + len(io) * repeats * 2 + 2 + 2 + 2 + 2 * stage_runs
             + (0 if args.skip_publish else 2))  # fmt: skip
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        bar = progress.add_task("", total=total)

        def step(what: str, task: str, kind: str | None = None, **extra: Any) -> dict[str, Any]:
            progress.update(bar, description=what)
            result = run.worker(task, kind, **extra)
            progress.advance(bar)
            return result

        made = step(f"making the inputs under {inputs}", "inputs", folder=inputs,
                    mib=args.mib, rows=args.rows, seed=args.seed)  # fmt: skip
        if not _ok(made):
            raise SystemExit("making the inputs failed")
        for kind in KINDS:
            if not _ok(step(f"{kind}: putting the I/O files into the zones", "seed", kind,
                            folder=inputs)):  # fmt: skip
                raise SystemExit("putting the I/O files into the zones failed")
        mib = {"put": made["blob_bytes"], "get": made["blob_bytes"],
               "mirror": made["release_bytes"], "read": made["table_bytes"]}  # fmt: skip
        steps = []
        for task, label in io:
            measured = Step(label, "MiB", mib[task] / MiB)
            for number in range(repeats):
                for kind in KINDS:
                    what = f"{label}, {kind}, run {number + 1} of {repeats}"
                    measured.runs[kind].append(step(what, task, kind, folder=inputs))
            steps.append(measured)
        for kind in KINDS:
            step(f"{kind}: removing the I/O files", "clear", kind)

        rows = made["police_rows"]
        for kind in KINDS:
            if not _ok(step(f"{kind}: a fresh hub", "init", kind, reference=made["reference"])):
                raise SystemExit("setting up the hub failed")
        receive = Step("receive_extract", "rows", rows)
        for kind in KINDS:
            receive.runs[kind].append(step(f"receive_extract, {kind}", "receive", kind,
                                           csv=made["police_csv"]))  # fmt: skip
        steps.append(receive)
        stage = Step("process_extract", "rows", rows)
        for number in range(stage_runs):
            for kind in KINDS:
                received = receive.runs[kind][0]
                if not _ok(received):
                    continue
                what = f"process_extract, {kind}, run {number + 1} of {stage_runs}"
                stage.runs[kind].append(step(what, "stage", kind,
                                             extract_id=received["extract_id"]))  # fmt: skip
        steps.append(stage)
        if not args.skip_publish:
            publish = Step("publish_release", "rows", rows)
            for kind in KINDS:
                if stage.best(kind) is not None:
                    publish.runs[kind].append(step(f"publish_release, {kind}", "publish", kind))
            steps.append(publish)
    return steps, made


# ------------------------------------------------------------------------------------ output


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MiB:,.0f}"


def _seconds(value: float) -> str:
    if value < 1e-3:
        return "<0.001"
    return f"{value:.4f}" if value < 0.1 else f"{value:.2f}"


def _rate(step: Step, seconds: float) -> str:
    if seconds < 1e-3:
        return "(no copy)"
    rate = step.amount / seconds
    return f"{rate:,.0f} rows/s" if step.unit == "rows" else f"{rate:,.1f} MiB/s"


def _ratio(s3: float | None, local: float | None, floor: float) -> str:
    if s3 is None or local is None or local < floor:
        return "-"
    return f"{s3 / local:,.1f}x"


def _table(steps: list[Step], args: argparse.Namespace, made: dict[str, Any]) -> Table:
    table = Table(
        title=f"Zone storage: local folders against S3 (moto) — {made['blob_bytes'] / MiB:,.0f} "
        f"MiB files, {made['police_rows']:,} police-sv rows; fastest of {args.repeats} "
        f"(I/O) / {args.stage_runs} (staging) runs",
        title_justify="left",
        caption="S3 here is moto, a Python S3 server on this same machine sharing its CPUs: a "
        "pessimistic stand-in for MinIO or S3; the S3/local ratios are upper bounds.",
        caption_justify="left",
    )
    for column, justify in (("step", "left"), ("storage", "left"), ("seconds", "right"),
                            ("throughput", "right"), ("peak MiB", "right"),
                            ("op MiB", "right"), ("CPU s", "right"), ("moto CPU s", "right"),
                            ("moto peak MiB", "right"), ("S3/local time", "right"),
                            ("S3/local peak", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for step in steps:
        local = step.best("local")
        for kind in KINDS:
            best = step.best(kind)
            if best is None:
                runs = step.runs[kind]
                why = (
                    "not run"
                    if not runs
                    else ("timed out" if any(r.get("timed_out") for r in runs) else "failed")
                )
                table.add_row(step.label, kind, why, *["-"] * 8)
                continue
            ratios = ["", ""]
            if kind == "s3":
                ratios = [
                    _ratio(best["seconds"], local["seconds"] if local else None, 1e-3),
                    _ratio(best["peak"], local["peak"] if local else None, 1.0),
                ]
            server_cpu, server_peak = best.get("server_cpu"), best.get("server_peak")
            table.add_row(
                step.label,
                kind,
                _seconds(best["seconds"]),
                _rate(step, best["seconds"]),
                _mib(best["peak"]),
                _mib(best["peak"] - best["peak_before"]),
                f"{best['cpu']:.2f}",
                "-" if server_cpu is None else f"{server_cpu:.2f}",
                _mib(server_peak),
                *ratios,
            )
        table.add_section()
    return table


def _notes(steps: list[Step], made: dict[str, Any], load: list[float], wall: float) -> list[str]:
    lines = [
        f"inputs: {made['blob_bytes'] / MiB:,.0f} MiB of random bytes; random Parquet of "
        f"{made['table_bytes'] / MiB:,.0f} MiB ({made['table_rows']:,} rows, four 8-byte "
        f"columns); a release folder of {made['release_bytes'] / MiB:,.0f} MiB "
        f"({', '.join(n for n, _ in RELEASE)}); a synthetic partnership of "
        f"{made['partnership_total']:,} rows, of which the police-sv file used: "
        f"{made['police_rows']:,} rows, {made['police_bytes'] / MiB:,.1f} MiB of CSV",
        "local put_file is a rename into the zone and local mirror returns the zone's own "
        "folder (nothing copied: no ratio); S3 put_file uploads to a hidden key, copies it on "
        "the server and deletes the hidden one, S3 mirror downloads every file",
    ]
    for step in steps:
        best = step.best("s3")
        if best and "extract_id" in best:
            rates = [
                f"{kind} {made['police_bytes'] / MiB / run['seconds']:,.1f} MiB/s"
                for kind, run in (("local", step.best("local")), ("s3", best))
                if run is not None
            ]
            lines.append(f"receive_extract of the CSV: {', '.join(rates)}")
        if best and "server_copy" in best:
            lines.append(
                f"of S3 put_file, the server-side copy alone took {best['server_copy']:.2f} s "
                "(moto copies in Python; S3 and MinIO copy inside the store)"
            )
        if best and "timings" in best:
            local = step.best("local")
            for kind, run in (("local", local), ("s3", best)):
                if run is None:
                    continue
                timings = run["timings"]
                lines.append(
                    f"process_extract {kind}: staging into the staging and linkage zones "
                    f"{timings.get('total', 0.0):.2f} s, then the Data Docs into the quality zone "
                    f"{timings.get('data_docs', 0.0):.2f} s (wall); runs "
                    + ", ".join(f"{s:.2f}" for s in run["all_seconds"])
                    + " s"
                )
            lines.append(
                "  (the Data Docs are many small files: on S3 each is an upload, a server-side "
                "copy and a delete, so their cost is per request, not per byte)"
            )
        if best and "events" in best:
            lines.append(f"publish_release: {best['events']:,} events, {best['people']:,} people")
    lines.append(
        "peak MiB: each run's own process peak (VmHWM, imports included; the highest of the "
        "runs); op MiB: how far the timed operation raised it; CPU s: the measuring process's "
        "CPU seconds (all threads) during the operation; moto CPU s and peak: the S3 server's "
        "over the same span; rows/s: the extract's police rows over the seconds"
    )
    making = made["io_seconds"] + made["partnership_seconds"]
    lines.append(
        f"load average {load[0]:.1f} before the measurements, {load[1]:.1f} after "
        f"({os.cpu_count()} CPUs): other work on the machine slows every figure; the whole "
        f"run took {wall:,.0f} s ("
        + (
            "inputs reused from --cache"
            if made.get("reused")
            else f"inputs made in {making:,.0f} s"
        )
        + ")"
    )
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mib",
        type=int,
        default=256,
        help="size of the raw I/O files in MiB: the file put and got, the Parquet file read, "
        "and the release folder mirrored (in total) (default: 256)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="police-sv rows of the extract received, staged and published (default: "
        "1,000,000; at most about 8.3 million, the police part of a 10M-row partnership)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each raw I/O operation (default: 3)"
    )
    parser.add_argument(
        "--stage-runs", type=int, default=1, help="runs of process_extract (default: 1)"
    )
    parser.add_argument(
        "--skip-publish", action="store_true", help="do not measure publish_release"
    )
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"of the generated inputs (default: {SEED})"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the generated inputs in this folder (by size, rows and seed) and reuse them "
        "next time; by default they are made in the temporary folder and removed",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="stop a measurement after this many seconds and report it as timed out "
        "(default: 3600)",
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--worker", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        _worker_main(args.worker, args.out, json.loads(args.args))
        return
    if args.mib < 1:
        raise SystemExit("--mib must be at least 1")
    police_total(args.rows)  # refuses a size the generator cannot make
    with (
        tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp,
        s3_buckets() as (endpoint, prefix, credentials),
    ):
        scratch = Path(tmp)
        inputs = (
            args.cache or scratch / "inputs"
        ) / f"mib{args.mib}-rows{args.rows}-seed{args.seed}"
        hubs = {
            kind: {"kind": kind, "base": str(scratch / kind), "endpoint": endpoint,
                   "prefix": prefix, **credentials}
            for kind in KINDS
        }  # fmt: skip
        run = Run(scratch, args.timeout, hubs, _server_pid())
        load, started = [os.getloadavg()[0]], time.perf_counter()
        steps, made = measure_all(run, args, inputs)
        load.append(os.getloadavg()[0])
    console.print(_table(steps, args, made))
    for line in _notes(steps, made, load, time.perf_counter() - started):
        console.print(f"  {line}")
    if args.json:
        results = {
            "inputs": made,
            "load": load,
            "steps": [{"label": s.label, "unit": s.unit, "amount": s.amount, "runs": s.runs}
                      for s in steps],
        }  # fmt: skip
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
