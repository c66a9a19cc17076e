"""Benchmark: what checking agreements costs on every use.

Signatures are verified every time an agreement is used (upload, each DAG run, each release
input). This prints, for the example contracts: lint throughput, and the latency of
``AgreementRegistry.may_send`` (store read + digest + Ed25519 verification of both leads'
signatures + audit on refusal) next to a baseline measured in the same run: the bare status and
date check without signatures (what the hub did before agreements were signed). Also the time to
append to and verify the hash-chained audit log.

    uv run python bench/agreements.py --checks 2000 --audit 5000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from hub import audit
from hub.agreements import load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.lint import lint_file
from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.settings import PROJECT_ROOT, Settings
from hub.store import make_engine, upgrade

ON = date(2026, 6, 1)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_check(agreement: Agreement, sender: str, on: date, approved: set[str]) -> bool:
    """Baseline: sender, status flag and validity window only (no store, no signatures)."""
    return (
        sender == agreement.provider
        and agreement.id in approved
        and agreement.valid_from <= on <= agreement.valid_until
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000, help="may_send calls to time")
    parser.add_argument("--audit", type=int, default=5000, help="audit entries to append")
    args = parser.parse_args()
    contracts = sorted((PROJECT_ROOT / "contracts").glob("*.yaml"))
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
        engine = make_engine(settings.metadata_url)
        upgrade(engine)

        started = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            for path in contracts:
                lint_file(path)
        lint_s = time.perf_counter() - started
        print(f"lint: {rounds * len(contracts) / lint_s:,.0f} files/s ({len(contracts)} contracts)")

        agreements = load_agreements(settings.contracts_dir)
        approve_for_development(settings, engine, agreements.values(), on=ON)
        registry = AgreementRegistry.open(settings, engine)
        police = agreements["police-sv"]

        started = time.perf_counter()
        for _ in range(args.checks):
            assert registry.may_send(police, "merseyvale-police", ON)
        hub_s = time.perf_counter() - started
        approved = set(agreements)
        started = time.perf_counter()
        for _ in range(args.checks):
            assert bare_check(police, "merseyvale-police", ON, approved)
        bare_s = time.perf_counter() - started
        print(
            f"may_send with signature verification: {hub_s / args.checks * 1e3:.2f} ms per check "
            f"({args.checks / hub_s:,.0f}/s)"
        )
        print(
            f"baseline bare status/date check: {bare_s / args.checks * 1e6:.2f} us per check; "
            f"an extract is checked 3 times (upload, stage, publish), so verification adds "
            f"{3 * hub_s / args.checks * 1e3:.1f} ms to each extract"
        )

        started = time.perf_counter()
        for i in range(args.audit):
            audit.record(
                engine,
                actor="bench",
                action="bench.entry",
                subject="bench",
                detail={"i": i},
            )
        append_s = time.perf_counter() - started
        started = time.perf_counter()
        result = audit.verify(engine)
        verify_s = time.perf_counter() - started
        assert result.ok
        print(
            f"audit append: {args.audit / append_s:,.0f} entries/s; verify: "
            f"{result.entries / verify_s:,.0f} entries/s ({result.entries:,} entries)"
        )
        print(f"peak RSS {_peak_mib():,.0f} MiB")
        engine.dispose()


if __name__ == "__main__":
    main()
