"""Benchmark: normalise + keyed hash (HMAC-SHA256 tokens) at scale, against a naive baseline and
OpenSSL's own HMAC speed, all measured in the same run.

Two workloads, streamed in batches so memory stays flat whatever ``--rows`` is:

* NHS numbers as partners send them (plain, spaced ``943 476 5919``, dashed ``943-476-5919``,
  some blank, some with a wrong check digit): ``normalise.nhs_number`` then ``keyed_hash``;
* name + date-of-birth composites: forename (with the nickname table), surname and date of birth
  (ISO or day-first) normalised as the stage task does, joined with ``|`` as its linkage keys are,
  then ``keyed_hash`` in a ``composite:`` domain.

It prints rows/s for each workload (and the keyed-hash share of it), the keyed-hash rate alone on
one and two threads, the naive rate (``hmac.new(...).digest()`` per value in Python), the ceiling
(``openssl speed -hmac sha256`` on 16-byte inputs, one core), their ratios, the first-call cost of
the compiled kernel, and peak RSS after a one-batch run and after the full run.

    uv run python bench/pseudonymise.py --rows 10000000
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from faker.providers.person.en_GB import Provider as PersonNames
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hub.agreements.model import IdentifierType
from hub.pipeline.identifiers import normaliser_for
from hub.privacy import hmac_batch, normalise
from hub.privacy.keys import DataKey
from hub.privacy.tokens import domain_subkey, keyed_hash

TODAY = date(2026, 1, 1)
COMPOSITE_PARTS = ("forename", "surname", "date_of_birth")
COMPOSITE_DOMAIN = "composite:" + "+".join(COMPOSITE_PARTS)
console = Console(highlight=False, soft_wrap=True)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _arrow_peak_mib() -> float:
    return float(pa.default_memory_pool().max_memory()) / 2**20


# ---------------------------------------------------------------------------- synthetic inputs


def _strings(chars: npt.NDArray[np.uint8], used: npt.NDArray[np.bool_]) -> pa.Array:
    """A string array whose row i is the bytes ``chars[i][used[i]]`` (rows of equal width)."""
    lengths = used.sum(axis=1, dtype=np.int32)
    offsets = np.zeros(len(chars) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(chars[used])
    return pa.Array.from_buffers(pa.string(), len(chars), [None, pa.py_buffer(offsets), data])


def nhs_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """NHS numbers in the shapes partners send: a third plain, a third spaced 3-3-4, a third
    dashed; 1% blank; about 9% fail the check digit (the nine digits admit no check digit)."""
    digits = rng.integers(0, 10, size=(n, 10), dtype=np.int64)
    digits[:, 0] = rng.integers(4, 9, size=n)  # no leading zero, never the 999 test range
    weights = np.arange(10, 1, -1)
    check = (11 - (digits[:, :9] @ weights) % 11) % 11
    digits[:, 9] = np.where(check == 10, 0, check)  # remainder 1: no valid number, left invalid
    chars = np.full((n, 12), ord(" "), np.uint8)
    used = np.ones((n, 12), np.bool_)
    shape = rng.integers(0, 3, size=n)
    plain, grouped = shape == 0, shape != 0
    chars[plain, :10] = digits[plain] + ord("0")
    used[plain, 10:] = False
    groups = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11]
    chars[np.ix_(grouped, groups)] = digits[grouped] + ord("0")
    dashed = shape == 2
    chars[dashed, 3] = ord("-")
    chars[dashed, 7] = ord("-")
    used[rng.random(n) < 0.01] = False  # blank
    return _strings(chars, used)


def _vocabulary(listed: Iterable[str]) -> pa.Array:
    """Names as typed: as listed, upper case, lower case, and a few with stray spaces."""
    names = list(listed)  # faker lists some names weighted, in a mapping
    spelt = [*names, *(n.upper() for n in names), *(n.lower() for n in names)]
    spelt += [f" {n} " for n in names[:50]] + ["O'Brien", "Mc Donald", "Zoë", "Seán", "Bill"]
    return pa.array(spelt, pa.string())


@dataclass
class People:
    forenames: pa.Array = field(default_factory=lambda: _vocabulary(PersonNames.first_names))
    surnames: pa.Array = field(default_factory=lambda: _vocabulary(PersonNames.last_names))

    def batch(self, rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array, pa.Array]:
        forename = self.forenames.take(rng.integers(0, len(self.forenames), n))
        surname = self.surnames.take(rng.integers(0, len(self.surnames), n))
        days = rng.integers(-14_600, 20_000, n).astype("datetime64[D]").astype("datetime64[s]")
        stamps = pa.array(days, mask=rng.random(n) < 0.01)  # 1% without a date of birth
        iso = pc.strftime(stamps, format="%Y-%m-%d")
        day_first = pc.strftime(stamps, format="%d/%m/%Y")
        return forename, surname, pc.if_else(pa.array(rng.random(n) < 0.5), day_first, iso)


# ---------------------------------------------------------------------------- the workloads


@dataclass
class Timing:
    rows: int = 0
    total: float = 0.0
    hashing: float = 0.0
    valid: int = 0

    def add(self, rows: int, total: float, hashing: float, valid: int) -> None:
        self.rows += rows
        self.total += total
        self.hashing += hashing
        self.valid += valid


def _batches(rows: int, batch: int) -> Iterator[int]:
    done = 0
    while done < rows:
        yield min(batch, rows - done)
        done += batch


def run_nhs(key: DataKey, rows: int, batch: int, progress: Progress | None) -> Timing:
    rng = np.random.default_rng(1)
    timing = Timing()
    task = progress.add_task("NHS numbers", total=rows) if progress else None
    for n in _batches(rows, batch):
        raw = nhs_numbers(rng, n)
        started = time.perf_counter()
        canonical = normalise.nhs_number(raw).values
        hashed_at = time.perf_counter()
        tokens = keyed_hash(canonical, key, "nhs_number")
        done = time.perf_counter()
        timing.add(n, done - started, done - hashed_at, n - tokens.null_count)
        if progress and task is not None:
            progress.advance(task, n)
    return timing


def run_composite(key: DataKey, rows: int, batch: int, progress: Progress | None) -> Timing:
    rng = np.random.default_rng(2)
    people = People()
    normalisers: dict[str, Callable[[pa.Array], normalise.Normalised]] = {
        part: normaliser_for(IdentifierType(part), TODAY) for part in COMPOSITE_PARTS
    }
    timing = Timing()
    task = progress.add_task("name + date of birth", total=rows) if progress else None
    for n in _batches(rows, batch):
        raw = dict(zip(COMPOSITE_PARTS, people.batch(rng, n), strict=True))
        started = time.perf_counter()
        pieces = [normalisers[part](raw[part]).values for part in COMPOSITE_PARTS]
        joined = pc.binary_join_element_wise(*pieces, "|")  # null when any part is null
        hashed_at = time.perf_counter()
        tokens = keyed_hash(joined, key, COMPOSITE_DOMAIN)
        done = time.perf_counter()
        timing.add(n, done - started, done - hashed_at, n - tokens.null_count)
        if progress and task is not None:
            progress.advance(task, n)
    return timing


# ---------------------------------------------------------------------------- reference points


def hash_only(subkey: bytes, values: pa.Array, threads: int, repeats: int = 5) -> float:
    """Best of ``repeats`` keyed-hash rates (values/s) on ``threads`` threads."""
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        hmac_batch.hmac_sha256_batch(subkey, values, backend="libcrypto", threads=threads)
        best = max(best, len(values) / (time.perf_counter() - started))
    return best


def naive(subkey: bytes, values: pa.Array) -> tuple[float, list[bytes | None]]:
    """Values/s of Python ``hmac`` per value (the list conversion included, as the old code had),
    and the tokens, to check the hub's against."""
    started = time.perf_counter()
    tokens = [
        None if v is None else hmac.new(subkey, v.encode(), hashlib.sha256).digest()
        for v in values.to_pylist()
    ]
    return len(values) / (time.perf_counter() - started), tokens


def openssl_ceiling(seconds: int = 3) -> float | None:
    """HMAC-SHA256/s on 16-byte inputs, one core, from ``openssl speed``; None if unavailable."""
    binary = shutil.which("openssl")
    if binary is None:
        return None
    command = [binary, "speed", "-seconds", str(seconds), "-bytes", "16", "-hmac", "sha256"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^hmac\(sha256\)\s+([0-9.]+)k", done.stdout, re.MULTILINE)
    return None if match is None else float(match.group(1)) * 1000 / 16


def first_call_seconds() -> tuple[float, float]:
    """Seconds to import numba, and to build the kernel (cache load or compile + self-test)."""
    started = time.perf_counter()
    import numba  # noqa: F401

    imported = time.perf_counter()
    hmac_batch._compiled_backend()
    return imported - started, time.perf_counter() - imported


# ---------------------------------------------------------------------------- report


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds / 1e6:6.2f} M/s" if seconds else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per workload")
    parser.add_argument("--batch", type=int, default=500_000, help="rows per batch")
    parser.add_argument("--sample", type=int, default=1_000_000, help="naive/hash-only sample")
    args = parser.parse_args()

    key = DataKey("pseudonymisation", 1, os.urandom(32))
    numba_import, kernel_build = first_call_seconds()
    cache = os.environ.get("NUMBA_CACHE_DIR", "unset, so hub/privacy/__pycache__ or the user cache")
    console.print(
        f"first call: import numba {numba_import:.2f} s, build kernel {kernel_build:.2f} s "
        f"(numba cache: {cache}; a cold cache means a compile)"
    )

    small = min(args.batch, args.rows)
    run_nhs(key, small, args.batch, None)
    run_composite(key, small, args.batch, None)
    peak_small, arrow_small = _peak_mib(), _arrow_peak_mib()

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        nhs = run_nhs(key, args.rows, args.batch, progress)
        composite = run_composite(key, args.rows, args.batch, progress)
    peak_full, arrow_full = _peak_mib(), _arrow_peak_mib()

    sample = normalise.nhs_number(nhs_numbers(np.random.default_rng(3), args.sample)).values
    subkey = domain_subkey(key, "nhs_number")
    single = hash_only(subkey, sample, threads=1)
    double = hash_only(subkey, sample, threads=2)
    slow, expected = naive(subkey, sample)
    identical = keyed_hash(sample, key, "nhs_number").to_pylist() == expected
    ceiling = openssl_ceiling()

    console.print(f"\nrows per workload {args.rows:,} in batches of {args.batch:,}")
    for name, t in (("NHS numbers", nhs), ("name + date of birth", composite)):
        console.print(
            f"{name:22} normalise + keyed hash {t.rows / t.total:12,.0f} rows/s "
            f"({t.total:.1f} s; keyed hash {t.hashing:.1f} s = {_rate(t.rows, t.hashing)}; "
            f"{t.valid:,} tokens)"
        )
    console.print(f"\nkeyed hash only, {args.sample:,} normalised NHS numbers (10 bytes each):")
    console.print(f"  hub, 1 thread            {single / 1e6:6.2f} M/s")
    console.print(f"  hub, 2 threads           {double / 1e6:6.2f} M/s")
    console.print(
        f"  naive Python hmac        {slow / 1e6:6.2f} M/s "
        f"(same tokens as the hub: {'yes' if identical else 'NO'})"
    )
    if ceiling is None:
        console.print(
            "  OpenSSL ceiling          n/a (no openssl binary, or output not understood)"
        )
    else:
        console.print(
            f"  OpenSSL ceiling          {ceiling / 1e6:6.2f} M/s per core (16-byte HMAC)"
        )
        console.print(
            f"  hub / ceiling            {single / ceiling:6.2f} (1 thread), "
            f"{double / ceiling:.2f} (2 threads)"
        )
    console.print(
        f"  hub / naive              {single / slow:6.1f}x (1 thread), {double / slow:.1f}x"
    )
    console.print(
        f"\npeak RSS: {peak_small:,.0f} MiB after one batch of each workload, "
        f"{peak_full:,.0f} MiB after {args.rows:,} rows of each (batch {args.batch:,}); "
        f"Arrow memory pool peak {arrow_small:,.0f} MiB and {arrow_full:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
