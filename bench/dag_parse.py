"""Benchmark: parsing the hub's DAG file with 50 agreements (target: under 2 s).

The contracts folder is filled with 50 agreements (copies of police-sv under their own ids) and
the DAG file ``dags/hub_dags.py`` is parsed by Airflow's own ``DagBag`` in a fresh process, as
the dag-processor does: it reads and lints every agreement and builds 52 DAGs (one per
agreement, the one picture, retention). It prints the DagBag's parse time of the file, the
whole process's wall time (Airflow's import included), and a baseline measured in the same run:
``yaml.safe_load`` of the same 50 files, the least any parser of them must do.

    uv run python bench/dag_parse.py --agreements 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hub.pipeline.airflow_env import DAGS_FOLDER, airflow_environment
from hub.settings import PROJECT_ROOT, Settings

TARGET_S = 2.0
CHILD = """
import json, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder={folder!r})
done = time.perf_counter()
parse = sum(s.duration.total_seconds() if hasattr(s.duration, "total_seconds") else s.duration
            for s in bag.dagbag_stats)
print(json.dumps({{"dags": len(bag.dag_ids), "errors": len(bag.import_errors),
                  "import_s": imported - started, "dagbag_s": done - imported,
                  "file_parse_s": parse}}))
"""


def write_agreements(folder: Path, count: int) -> list[Path]:
    template = (PROJECT_ROOT / "contracts" / "police-sv.yaml").read_text(encoding="utf-8")
    paths = []
    for n in range(1, count + 1):
        path = folder / f"police-sv-{n:02d}.yaml"
        path.write_text(
            template.replace("id: police-sv\n", f"id: police-sv-{n:02d}\n", 1), encoding="utf-8"
        )
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        contracts = base / "contracts"
        contracts.mkdir()
        paths = write_agreements(contracts, args.agreements)
        started = time.perf_counter()
        for path in paths:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        baseline_s = time.perf_counter() - started

        settings = Settings(
            env="test",
            data_dir=base / "var",
            key_dir=base / "keys",
            master_key_file=base / "master.key",
            contracts_dir=contracts,
        )
        env = {**os.environ, **airflow_environment(settings)}
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", CHILD.format(folder=str(DAGS_FOLDER))],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            tail = child.stderr.strip().splitlines()[-3:]
            raise SystemExit("parsing the DAG file failed: " + " / ".join(tail))
        wall_s = time.perf_counter() - started
    result = json.loads(child.stdout.strip().splitlines()[-1])
    expected = args.agreements + 2
    print(
        f"DAG file with {args.agreements} agreements: {result['dags']} DAGs, "
        f"{result['errors']} import errors (expected {expected} DAGs, 0 errors)"
    )
    print(
        f"  DagBag parse of dags/hub_dags.py: {result['file_parse_s']:.2f} s "
        f"(DagBag total {result['dagbag_s']:.2f} s)"
    )
    print(f"  Airflow import in the process:   {result['import_s']:.2f} s")
    print(f"  the whole process, wall clock:   {wall_s:.2f} s")
    print(f"  baseline, yaml.safe_load of the {args.agreements} files: {baseline_s:.2f} s")
    verdict = "met" if result["file_parse_s"] < TARGET_S else "NOT met"
    print(f"target: parse under {TARGET_S:.0f} s: {verdict}")
    if result["dags"] != expected or result["errors"]:
        raise SystemExit("the DAG file did not build every DAG")


if __name__ == "__main__":
    main()
