"""Benchmark: validate a staged synthetic police extract with its GX suite.

Stages the synthetic police feed through the hub (sealed landing file -> staged Parquet and
tokens), then validates the files with ``expectations/police-sv.json`` batch by batch, reading
both Parquet files as streams (``validate_staged``; the pipeline itself validates as it stages,
measured by bench/pipeline.py). Prints rows/s of the validation, the time of reading the files
alone, and the peak memory of the process that validates (a fresh one).

    uv run python bench/quality.py --rows 1200000
    uv run python bench/quality.py --rows 12000000 --staged var/bench-10m   # keep for reruns
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import init_keyring
from hub.quality.engine import ephemeral_context
from hub.quality.suites import load_suite
from hub.quality.validate import DEFAULT_BATCH_ROWS, validate_staged
from hub.settings import PROJECT_ROOT, Settings
from hub.store import make_engine, upgrade
from hub.synth import generate_partnership

# Parquet batch size (rebatched to --batch-rows for GX). Files are opened with pre_buffer=False:
# pyarrow's default pre-buffering keeps every row group read until the file is closed (+450 MiB
# reading three token columns of 8.3M rows), so memory would grow with the extract.
READ_ROWS = 65_536
TOKEN_COLUMNS = ["record", "tok_record_id", "tok_local_person_id"]  # those the suite checks


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stage(base: Path, rows: int) -> tuple[Path, Path, int]:
    settings = Settings(
        env="test",
        data_dir=base / "var",
        key_dir=base / "keys",
        master_key_file=base / "master.key",
        contracts_dir=PROJECT_ROOT / "contracts",
    )
    settings.ensure_dirs()
    summary = generate_partnership(base / "partners", rows=rows)
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(
        base / "partners" / "reference" / "postcode_lsoa.csv",
        settings.reference_dir / "postcode_lsoa.csv",
    )
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    ring = init_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [agreement])
    csv = summary.files["police-sv"]
    with csv.open("rb") as source:
        extract = receive_extract(
            settings,
            engine,
            ring,
            agreement,
            sender_org=agreement.provider,
            source=source,
            source_name=csv.name,
        )
    staged = stage_extract(settings, engine, ring, agreement, extract.id)
    engine.dispose()
    # a local hub: each zone is a folder of the data directory
    return (
        settings.data_dir / staged.staged_path.recorded,
        settings.data_dir / staged.tokens_path.recorded,
        staged.rows,
    )


def _validate(data: Path, tokens: Path, batch_rows: int) -> tuple[float, int, int, float, float]:
    """Validate in this process: seconds, rows, findings, peak RSS before and after (MiB)."""
    agreement = get_agreement(PROJECT_ROOT / "contracts", "police-sv")
    suite = load_suite(PROJECT_ROOT / "expectations", "police-sv")
    ephemeral_context()  # GX imported and warmed before timing, as in a running worker
    before = _peak_mib()
    started = time.perf_counter()
    outcome = validate_staged(
        agreement,
        pq.ParquetFile(data, pre_buffer=False).iter_batches(batch_size=READ_ROWS),
        suite,
        tokens=pq.ParquetFile(tokens, pre_buffer=False).iter_batches(
            batch_size=READ_ROWS, columns=TOKEN_COLUMNS
        ),
        arrival_date=date(2026, 6, 1),
        batch_rows=batch_rows,
    )
    seconds = time.perf_counter() - started
    return seconds, outcome.rows, len(outcome.findings), before, _peak_mib()


def _report(data: Path, tokens: Path, batch_rows: int) -> None:
    # validate first, in a fresh process: a forked child inherits its parent's peak RSS
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        seconds, n, findings, before, after = pool.submit(
            _validate, data, tokens, batch_rows
        ).result()
    started = time.perf_counter()
    for _ in pq.ParquetFile(data, pre_buffer=False).iter_batches(batch_size=READ_ROWS):
        pass
    for _ in pq.ParquetFile(tokens, pre_buffer=False).iter_batches(
        batch_size=READ_ROWS, columns=TOKEN_COLUMNS
    ):
        pass
    reading = time.perf_counter() - started
    expectations = len(load_suite(PROJECT_ROOT / "expectations", "police-sv")["expectations"])
    print(
        f"validate_staged ({expectations} expectations, batches of {batch_rows:,}): "
        f"{seconds:.2f} s = {n / seconds:,.0f} rows/s, {findings} findings"
    )
    print(f"of which reading both Parquet files: {reading:.2f} s")
    print(
        f"peak RSS of the validating process {after:,.0f} MiB "
        f"(GX imported, before validating: {before:,.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000, help="total synthetic rows")
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS)
    parser.add_argument(
        "--staged", type=Path, help="reuse (or keep) data.parquet and tokens.parquet here"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder: Path = args.staged or Path(tmp)
        data, tokens = folder / "data.parquet", folder / "tokens.parquet"
        if not (data.is_file() and tokens.is_file()):  # then run again with --staged to measure
            started = time.perf_counter()
            staged_data, staged_tokens, n = _stage(Path(tmp) / "hub", args.rows)
            print(f"staged police-sv: {n:,} rows in {time.perf_counter() - started:.1f} s")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged_data, data)
            shutil.copyfile(staged_tokens, tokens)
        _report(data, tokens, args.batch_rows)


if __name__ == "__main__":
    main()
