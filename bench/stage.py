"""Benchmark: stage the synthetic police feed (sealed landing file -> staged Parquet + tokens).

Prints rows/s and peak memory for the hub's streamed path, next to a naive baseline measured in
the same run on the same file: pandas ``read_csv``, a per-row Python ``hmac`` loop over the
identifier columns, then ``to_parquet``.

    uv run python bench/stage.py --rows 200000
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import resource
import shutil
import tempfile
import time
from pathlib import Path

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import init_keyring
from hub.settings import PROJECT_ROOT, Settings
from hub.store import make_engine, upgrade
from hub.synth import generate_partnership

IDENTIFIERS = ("person_urn", "pnc_id", "forename", "surname", "date_of_birth", "home_postcode")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(csv: Path, out: Path) -> float:
    import pandas as pd  # type: ignore[import-untyped]

    started = time.perf_counter()
    frame = pd.read_csv(csv, dtype=str)
    key = b"k" * 32
    for column in IDENTIFIERS:
        frame[column] = [
            None if v is None or v != v else hmac.new(key, v.encode(), hashlib.sha256).hexdigest()
            for v in frame[column]
        ]
    frame.to_parquet(out, compression="zstd")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="total synthetic rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(
            env="test",
            data_dir=base / "var",
            key_dir=base / "keys",
            master_key_file=base / "master.key",
            contracts_dir=PROJECT_ROOT / "contracts",
        )
        settings.ensure_dirs()
        summary = generate_partnership(base / "partners", rows=args.rows)
        settings.reference_dir.mkdir(parents=True)
        shutil.copyfile(
            base / "partners" / "reference" / "postcode_lsoa.csv",
            settings.reference_dir / "postcode_lsoa.csv",
        )
        csv = summary.files["police-sv"]
        n = summary.rows["police-sv"]
        engine = make_engine(settings.metadata_url)
        upgrade(engine)
        ring = init_keyring(settings)
        agreement = get_agreement(settings.contracts_dir, "police-sv")
        approve_for_development(settings, engine, [agreement])
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
        before = _peak_mib()
        started = time.perf_counter()
        stage_extract(settings, engine, ring, agreement, extract.id)
        hub_seconds = time.perf_counter() - started
        hub_peak = _peak_mib()
        naive_seconds = baseline(csv, base / "naive.parquet")
        naive_peak = _peak_mib()
        print(f"police-sv rows: {n:,}  ({csv.stat().st_size / 2**20:.1f} MiB CSV)")
        print(
            f"hub stage (decrypt, conform, normalise, HMAC, generalise, Parquet): "
            f"{hub_seconds:.2f} s = {n / hub_seconds:,.0f} rows/s; "
            f"peak RSS {hub_peak:,.0f} MiB (before: {before:,.0f} MiB)"
        )
        print(
            f"naive baseline (pandas read_csv, per-row hmac, to_parquet, no normalising): "
            f"{naive_seconds:.2f} s = {n / naive_seconds:,.0f} rows/s; "
            f"peak RSS {naive_peak:,.0f} MiB"
        )
        print(f"ratio hub / baseline: {naive_seconds / hub_seconds:.2f}x")


if __name__ == "__main__":
    main()
