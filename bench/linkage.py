"""Benchmark: linking two sets of person records, the hub's keyed path beside cleartext splink.

Two synthetic sets A and B of ``--rows`` person records each (forename, surname, date of birth,
sex, postcode), an ``--overlap`` share of B's people also in A, neither set holding anybody twice.
The material is the project's own: name pools with their Zipf-like frequencies
(``hub.synth.names``), the partnership's postcode sectors (``hub.synth.areas``; each sector is
filled with every inward code it can have, about 16 people a postcode, and a tenth of people live
outside the area) and noise (``hub.synth.render`` with ``hub.synth.noise.NoiseRates``: A is a
clean register; every B record draws typical noise: typos, nicknames, case, accents,
apostrophes, date-of-birth errors and formats, postcode formats, a move since A for about 8% of
people, and a few missing values). The true person of every record is kept in ``truth.parquet``,
apart from what the linkers read.

Configurations, each measured in a process of its own so each peak RSS is that configuration's
alone:

- **hub: exact tokens** (the baseline): ``hub.linkage.link`` alone, the deterministic passes on
  keyed tokens (``tok_*`` and the composite keys ``tok_key_*``).
- **hub: keyed probabilistic** (the target): ``hub.linkage.link`` then
  ``hub.linkage.probabilistic.link_probabilistic`` on the tokens and keyed Bloom filters, split
  into the deterministic passes, loading the features, training and prediction (splink's training
  and predict calls are timed from outside the hub).
- **splink cleartext** (the reference): splink 5 on DuckDB with its usual settings (``link_only``,
  ``NameComparison``, ``DateOfBirthComparison``, ``PostcodeComparison``, ``ExactMatch`` on sex;
  blocking on date of birth, full name, surname and postcode, forename and postcode; trained
  without labels), on the same records standardised by the hub's normalisers, at its usual
  threshold (0.99) and at the lowest threshold that keeps its precision at 0.995 or more.

The keyed inputs (``tokens.parquet`` and ``encodings.parquet`` per set, under a throw-away
keyring) are made as staging makes them, before any timing: preparing them is staging's work,
not linkage's. Precision and recall are pairwise across the sets: a predicted pair is an A record
and a B record in the same final cluster (splink: a scored pair above the threshold), a true pair
an A and a B record of the same person. Targets, on keyed encodings only: at most 60 s and 4 GiB
at 1,000,000 against 1,000,000 on this 2-core machine, recall at least the cleartext reference's
on the same data, precision at least 0.995.

Inputs are generated once per size, overlap and seed and cached under ``--cache`` (2M records:
about a minute, 100 MB of disk).

    uv run python bench/linkage.py --rows 100000
    uv run python bench/linkage.py --rows 1000000 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from hub.settings import PROJECT_ROOT

console = Console(highlight=False, width=max(Console().width, 150))

SEED = 2025
TODAY = date(2026, 4, 1)  # staging date: every synthetic date of birth is before it
FIELDS = ("forename", "surname", "date_of_birth", "sex", "postcode")
SIDES = ("a", "b")
GiB = 2**30
TARGET_SECONDS = 60.0
TARGET_GIB = 4.0
TARGET_PRECISION = 0.995
SPLINK_THRESHOLD = 0.99
PEOPLE_PER_POSTCODE = 16  # in the area: every inward code of each sector (~97,000 postcodes)
OUT_OF_AREA = 0.10  # share of people living outside the partnership
MOVED = 0.11  # share of B's people with a new home since A (27% of them still give the old one)
MISSING = {"a": {"date_of_birth": 0.01, "postcode": 0.02, "name": 0.0},
           "b": {"date_of_birth": 0.03, "postcode": 0.03, "name": 0.005}}  # fmt: skip
DOB_FORMAT = {"a": "%Y-%m-%d", "b": "%d/%m/%Y"}


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------------ inputs


def _ages(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """Ages in years: flat to 60, then fewer each year to 100 (the shape of a census pyramid)."""
    years = np.arange(100)
    weights = np.where(years < 60, 1.0, (100 - years) / 40)
    return rng.choice(years, n, p=weights / weights.sum()) + rng.random(n)


def _postcode_pool(
    geo: Any, rng: np.random.Generator, out_of_area: int
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.float64], int]:
    """Every postcode of the area's sectors (outward code and inward digit, as in the geography)
    with its residence weight, then ``out_of_area`` postcodes of neighbouring areas; also how
    many are in the area."""
    from hub.synth.areas import INWARD_LETTERS, out_of_area_postcodes

    sectors: dict[str, float] = {}
    for code, weight in zip(geo.postcode.tolist(), geo.residence_weight.tolist(), strict=True):
        sectors[code[:-2]] = sectors.get(code[:-2], 0.0) + weight
    letters = [a + b for a in INWARD_LETTERS for b in INWARD_LETTERS]
    codes = [sector + pair for sector in sectors for pair in letters]
    weights = np.repeat(np.array(list(sectors.values())), len(letters))
    outside = out_of_area_postcodes(rng, out_of_area)
    pool = np.concatenate([np.array(codes, dtype=object), outside])
    return pool, weights / weights.sum(), len(codes)


def _population(rng: np.random.Generator, n: int) -> tuple[Any, Any]:
    """``n`` true people (``hub.synth.population.Population``): sex, names from the seeded pools,
    dates of birth, a home at A's time and at B's (different for movers); and the geography."""
    from hub.synth.areas import build_geography
    from hub.synth.names import build_name_pools
    from hub.synth.population import END, NO_MOVE, START, YEAR, Population

    geo = build_geography()
    pools = build_name_pools(int(rng.integers(0, 2**31)))
    outside = max(50, int(n * OUT_OF_AREA) // PEOPLE_PER_POSTCODE)
    postcode_pool, weights, in_area = _postcode_pool(geo, rng, outside)
    sex = (rng.random(n) < 0.5).astype(np.int8)
    forename = np.empty(n, dtype=np.int64)
    offset = 0
    for code in (0, 1):
        mask = sex == code
        p = pools.forename_weights[code]
        forename[mask] = offset + rng.choice(p.size, int(mask.sum()), p=p)
        offset += p.size
    surname = rng.choice(pools.surname_weights.size, n, p=pools.surname_weights)
    dob = START - np.floor(_ages(rng, n) * YEAR).astype(np.int64) - 1

    def homes() -> npt.NDArray[np.int64]:
        drawn = rng.choice(in_area, n, p=weights)
        out = rng.random(n) < OUT_OF_AREA
        return np.where(out, in_area + rng.integers(0, outside, n), drawn)

    home0 = homes()
    mover = rng.random(n) < MOVED
    home1 = np.where(mover, homes(), home0)
    moved = home1 != home0
    return Population(
        number=np.arange(n, dtype=np.int64),
        sex=sex,
        dob=dob.astype(np.int32),
        forename=forename.astype(np.int32),
        surname=surname.astype(np.int32),
        home=np.stack([home0, home1], axis=1).astype(np.int32),
        move_day=np.where(moved, END - 1, NO_MOVE).astype(np.int32),
        nhs=np.zeros(n, dtype=np.int64),
        upn=pa.nulls(n, pa.string()),
        pnc=pa.nulls(n, pa.string()),
        forename_pool=np.concatenate(pools.forenames),
        surname_pool=pools.surnames,
        postcode_pool=postcode_pool,
    ), geo


def _render(
    ctx: Any, person: npt.NDArray[np.int64], side: str, rng: np.random.Generator
) -> pa.Table:
    """One set's records of ``person`` as its system would hold them (``hub.synth.render``)."""
    from hub.synth import render
    from hub.synth.population import END

    missing = MISSING[side]
    fore, sur = render.names(ctx, person, rng)
    day = np.full(person.size, 0 if side == "a" else END, dtype=np.int64)  # A before any move
    return pa.table(
        {
            "record": pa.array(np.arange(person.size, dtype=np.int64)),
            "forename": render.strings(fore, rng.random(person.size) < missing["name"]),
            "surname": render.strings(sur, rng.random(person.size) < missing["name"]),
            "date_of_birth": render.dates_of_birth(
                ctx, person, rng, DOB_FORMAT[side], missing["date_of_birth"]
            ),
            "sex": render.sexes(ctx, person, rng, ("M", "F"), ("U",)),
            "postcode": render.postcodes(ctx, person, day, rng, missing["postcode"]),
        }
    )


def person_records(cache: Path, rows: int, overlap: float, seed: int) -> Path:
    """``a.parquet``, ``b.parquet`` (what the linkers read) and ``truth.parquet`` (``side``,
    ``record``, ``person``), made once per size, overlap and seed and kept under ``cache``."""
    folder = cache / f"people-{rows}-overlap{overlap:g}-seed{seed}"
    if all((folder / f"{name}.parquet").exists() for name in (*SIDES, "truth")):
        return folder
    from hub.synth.noise import NoiseRates
    from hub.synth.render import Context

    started = time.perf_counter()
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    shared = round(rows * overlap)
    total = 2 * rows - shared
    pop, geo = _population(rng, total)
    people = {
        "a": rng.permutation(rows).astype(np.int64),
        "b": rng.permutation(
            np.concatenate([rng.choice(rows, shared, replace=False), np.arange(rows, total)])
        ).astype(np.int64),
    }
    rates = {"a": NoiseRates().scaled(0.0), "b": NoiseRates()}
    truth = []
    for side in SIDES:
        ctx = Context.create(pop, geo, rates[side])
        pq.write_table(_render(ctx, people[side], side, rng), tmp / f"{side}.parquet")
        truth.append(
            pa.table(
                {
                    "side": pa.array([side] * rows, pa.string()),
                    "record": pa.array(np.arange(rows, dtype=np.int64)),
                    "person": pa.array(people[side]),
                }
            )
        )
    pq.write_table(pa.concat_tables(truth), tmp / "truth.parquet")
    tmp.replace(folder)
    seconds = time.perf_counter() - started
    (folder / "generated.json").write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    console.print(
        f"[dim]generated {rows:,} + {rows:,} person records ({shared:,} people in both) in "
        f"{seconds:.0f} s under {folder}[/dim]"
    )
    return folder


def _truth(folder: Path) -> dict[str, npt.NDArray[np.int64]]:
    """Each set's true person per record, in record order."""
    table = pq.read_table(folder / "truth.parquet")
    out = {}
    for side in SIDES:
        part = table.filter(pc.equal(table.column("side"), side)).sort_by("record")
        out[side] = part.column("person").to_numpy().astype(np.int64)
    return out


def canonical(table: pa.Table) -> dict[str, pa.Array]:
    """The hub's canonical form of each identifier (``hub.pipeline.identifiers``): what staging
    hashes, and what the cleartext reference compares."""
    from hub.agreements.model import IdentifierType
    from hub.pipeline.identifiers import normaliser_for

    return {
        name: normaliser_for(IdentifierType(name), TODAY)(
            table.column(name).combine_chunks()
        ).values
        for name in FIELDS
    }


# ------------------------------------------------------------------------------ keyed inputs

HUB_STEPS = ("profiles", "train", "predict")  # hub.linkage.probabilistic's steps
CANDIDATE_RULES = (  # blocking rules whose candidate pairs --profile counts
    ("date_of_birth",),
    ("surname", "sex"),
    ("postcode", "forename"),
    ("forename", "surname"),
    ("postcode", "surname"),
    ("date_of_birth", "sex"),
    ("date_of_birth", "forename"),
    ("date_of_birth", "surname"),
    ("date_of_birth", "postcode"),
    ("forename", "surname", "postcode"),
)
COMPOSITES = {  # the partner agreements' linkage keys (contracts/*.yaml)
    "initial_surname_dob_sex": ("forename_initial", "surname", "date_of_birth", "sex"),
    "forename_dob_postcode": ("forename", "date_of_birth", "postcode"),
}


def _inputs(base: Path) -> list[Any]:
    from hub.linkage import LinkInput

    return [
        LinkInput(f"bench-{side}", side, f"bench-{side}/{side}/tokens.parquet") for side in SIDES
    ]


def _store(base: Path) -> Any:
    """The benchmark's linkage zone: the folder ``base/linkage`` (hub.storage)."""
    import pyarrow.fs as pafs

    from hub.storage import ZoneStore

    return ZoneStore("linkage", "local", pafs.LocalFileSystem(), str((base / "linkage").resolve()))


def prepare_keyed(folder: Path, base: Path) -> dict[str, Any]:
    """Tokens and Bloom-filter encodings of both sets under a new keyring in ``base``, as staging
    writes them (``hub.pipeline.stage``): normalised, keyed-hashed per identifier domain, the
    composite keys hashed from their canonical parts, each distinct name encoded once."""
    from hub.agreements.model import IdentifierType
    from hub.pipeline.identifiers import composite_column, token_column, token_domain
    from hub.privacy import bloom
    from hub.privacy.keys import Keyring, LocalMasterKey
    from hub.privacy.rotation import PSEUDONYMISATION, composite_domain, token_table
    from hub.privacy.tokens import keyed_hash_chain

    started = time.perf_counter()
    (base / "keys").mkdir(parents=True, exist_ok=True)
    ring = Keyring.create(base / "keys", LocalMasterKey(secrets.token_bytes(32)))
    keys = ring.chain(PSEUDONYMISATION)
    encoding_key = ring.current(bloom.ENCODING)  # the names' Bloom filters have their own key
    agreement: Any = None  # shared identifier domains do not depend on the agreement
    for item in _inputs(base):
        side = item.extract_id
        values = canonical(pq.read_table(folder / f"{side}.parquet"))
        tokens: dict[str, pa.Array] = {
            "record": pa.array(np.arange(len(values["sex"]), dtype=np.int64))
        }
        domains: dict[str, str] = {}
        encodings = bloom.NameEncodings(keys[-1].version, encoding_key.version)
        for name, array in values.items():
            kind = IdentifierType(name)
            column, domain = token_column(kind), token_domain(kind, agreement)
            tokens[column], domains[column] = keyed_hash_chain(array, keys, domain), domain
            if name in ("forename", "surname"):
                names = pc.unique(array)
                encodings.add(
                    bloom.BloomEncoder([encoding_key], name),
                    names,
                    keyed_hash_chain(names, keys, domain),
                )
        parts = {
            **values,
            "forename_initial": pc.utf8_slice_codeunits(values["forename"], 0, 1),
            "birth_year": pc.utf8_slice_codeunits(values["date_of_birth"], 0, 4),
        }
        for key, key_parts in COMPOSITES.items():
            column, domain = composite_column(key), composite_domain(key_parts)
            joined = pc.binary_join_element_wise(*(parts[p] for p in key_parts), "|")
            tokens[column], domains[column] = keyed_hash_chain(joined, keys, domain), domain
        tokens_file = base / "linkage" / item.tokens_path
        tokens_file.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(token_table(tokens, domains, keys[-1].version), tokens_file)
        pq.write_table(encodings.table(), tokens_file.parent / bloom.ENCODINGS_FILE)
    return {"seconds": time.perf_counter() - started}


# ------------------------------------------------------------------------------- evaluation


def quality_of_clusters(
    clusters: dict[str, npt.NDArray[np.int64]], truth: dict[str, npt.NDArray[np.int64]]
) -> dict[str, float]:
    """Pairwise precision and recall across the sets: an A and a B record in one cluster are a
    predicted pair; an A and a B record of one person a true pair (each set holds a person at
    most once). Pairs within one set are counted apart (all false: no set has duplicates)."""
    a, b = clusters["a"], clusters["b"]
    codes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    in_a = np.bincount(inverse[: a.size], minlength=codes.size)
    in_b = np.bincount(inverse[a.size :], minlength=codes.size)
    predicted = int((in_a * in_b).sum())
    within = int((in_a * (in_a - 1) // 2).sum() + (in_b * (in_b - 1) // 2).sum())
    common, at_a, at_b = np.intersect1d(truth["a"], truth["b"], return_indices=True)
    correct = int((a[at_a] == b[at_b]).sum())
    return _measures(predicted, correct, common.size) | {"within_set_pairs": within}


def _measures(predicted: int, correct: int, true: int) -> dict[str, float]:
    return {
        "pairs": predicted,
        "correct": correct,
        "true_pairs": true,
        "precision": correct / predicted if predicted else 1.0,
        "recall": correct / true if true else 1.0,
    }


def quality_of_pairs(
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    probability: npt.NDArray[np.float64],
    truth: dict[str, npt.NDArray[np.int64]],
) -> dict[str, Any]:
    """Precision and recall of scored A-B pairs at the usual threshold, and at the lowest
    threshold whose precision is at least the target's."""
    true = int(np.intersect1d(truth["a"], truth["b"]).size)
    hit = truth["a"][left] == truth["b"][right]
    order = np.argsort(-probability, kind="stable")
    hits, scores = hit[order], probability[order]
    correct = np.cumsum(hits)
    precision = correct / np.arange(1, hits.size + 1)
    at = int(np.searchsorted(-scores, -SPLINK_THRESHOLD, side="right"))  # scores >= threshold
    usual = _measures(at, int(correct[at - 1]) if at else 0, true)
    # the longest prefix (same scores kept together) whose precision reaches the target
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    good = ends[precision[ends] >= TARGET_PRECISION]
    best: dict[str, Any] = _measures(0, 0, true) | {"threshold": 1.0}
    if good.size:
        end = int(good.max())
        best = _measures(end + 1, int(correct[end]), true) | {"threshold": float(scores[end])}
    return {"usual": usual, "best": best}


# ---------------------------------------------------------------------------- measured runs


@contextmanager
def _timed_methods(
    timings: dict[str, float], methods: dict[str, tuple[Any, str]]
) -> Iterator[None]:
    """Add each call's wall time to ``timings[label]`` for every ``label: (class, method)``,
    while the block runs (the hub's code is timed from outside, not changed)."""
    saved = []
    for label, (owner, name) in methods.items():
        original = getattr(owner, name)
        saved.append((owner, name, original))

        def wrapper(*args: Any, _f: Any = original, _l: str = label, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                timings[_l] = timings.get(_l, 0.0) + time.perf_counter() - started

        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _clusters_by_side(records: pa.Table, clusters: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Each set's clusters in record order, from ``link``'s record table."""
    out = {}
    extract = records.column("extract_id").to_numpy(zero_copy_only=False)
    record = records.column("record").to_numpy().astype(np.int64)
    for side in SIDES:
        mine = np.flatnonzero(extract == side)
        labels = np.empty(mine.size, dtype=np.int64)
        labels[record[mine]] = clusters[mine]
        out[side] = labels
    return out


def _config(threshold: float | None) -> Any:
    """The partnership's shipped linkage configuration (contracts/linkage/linkage.yaml), with
    another threshold when one is given."""
    from hub.linkage.config import load_linkage_config

    config, _ = load_linkage_config(PROJECT_ROOT / "contracts")
    if threshold is None:
        return config
    changed = config.probabilistic.model_copy(update={"threshold": threshold})
    return config.model_copy(update={"probabilistic": changed})


def run_exact(folder: Path, base: Path, threshold: float | None) -> dict[str, Any]:
    """The baseline: the configured deterministic passes on keyed tokens alone."""
    from hub.linkage import link

    inputs = _inputs(base)
    started = time.perf_counter()
    result = link(_store(base), inputs, _config(threshold))
    seconds = time.perf_counter() - started
    peak = _peak_bytes()
    clusters = result.records.column("cluster").to_numpy().astype(np.int64)
    quality = quality_of_clusters(_clusters_by_side(result.records, clusters), _truth(folder))
    return {"seconds": seconds, "peak": peak, "timings": {"deterministic": seconds}, **quality}


def run_keyed(folder: Path, base: Path, threshold: float | None) -> dict[str, Any]:
    """The hub's keyed path with the shipped configuration: ``link`` then
    ``link_probabilistic``, with its phases timed (``profiles``, ``train``, ``predict``, and
    splink's training and prediction calls inside them)."""
    from splink.internals.linker_components.inference import LinkerInference
    from splink.internals.linker_components.training import LinkerTraining

    from hub.linkage import link
    from hub.linkage import probabilistic as module
    from hub.linkage.probabilistic import link_probabilistic

    inputs = _inputs(base)
    steps: dict[str, float] = {}
    inner: dict[str, float] = {}
    own = {name: (module, name) for name in HUB_STEPS}
    splink_calls = {
        "prior": (LinkerTraining, "estimate_probability_two_random_records_match"),
        "u": (LinkerTraining, "estimate_u_using_random_sampling"),
        "EM": (LinkerTraining, "estimate_parameters_using_expectation_maximisation"),
        "predict": (LinkerInference, "predict"),
    }
    config = _config(threshold)
    started = time.perf_counter()
    result = link(_store(base), inputs, config)
    deterministic = time.perf_counter() - started
    peak_deterministic = _peak_bytes()
    with _timed_methods(steps, own), _timed_methods(inner, splink_calls):
        middle = time.perf_counter()
        links = link_probabilistic(_store(base), result, inputs, config.probabilistic)
        probabilistic = time.perf_counter() - middle
    seconds = time.perf_counter() - started
    peak = _peak_bytes()
    timings = {"deterministic": deterministic, **steps}
    timings["other"] = probabilistic - sum(steps.values())
    clusters = np.asarray(links.clusters, dtype=np.int64)
    quality = quality_of_clusters(_clusters_by_side(result.records, clusters), _truth(folder))
    return {
        "seconds": seconds,
        "peak": peak,
        "peak_deterministic": peak_deterministic,
        "timings": timings,
        "splink_calls": inner,
        "compared": int(links.compared),
        "links": int(links.pairs.num_rows),
        **quality,
    }


def _splink_settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
        ],
        blocking_rules_to_generate_predictions=_splink_blocking(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _splink_blocking() -> list[Any]:
    """Typical rules: each catches the pairs a typo or a move hides from the others."""
    from splink import block_on

    return [
        block_on("date_of_birth"),
        block_on("forename", "surname"),
        block_on("surname", "postcode"),
        block_on("forename", "postcode"),
    ]


def run_splink(folder: Path) -> dict[str, Any]:
    """The cleartext reference: splink 5 on DuckDB, its usual model, trained without labels."""
    import logging

    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    tables = {}
    for side in SIDES:
        values = canonical(pq.read_table(folder / f"{side}.parquet"))
        n = len(values["sex"])
        tables[side] = pa.table({"unique_id": pa.array(np.arange(n, dtype=np.int64)), **values})
    timings: dict[str, float] = {}
    started = clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    con = duckdb.connect()
    api = DuckDBAPI(connection=con)
    linker = Linker(
        [api.register(tables[side], table_name=f"set_{side}") for side in SIDES],
        _splink_settings(),
        log_level=logging.WARNING,
    )
    lap("register")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "date_of_birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    lap("train: prior, u")
    for rule in (block_on("date_of_birth"), block_on("forename", "surname")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    lap("train: EM")
    # scored from 0.5 up, so that a threshold keeping precision at the target can be found
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    scored = con.sql(
        "SELECT source_dataset_l, unique_id_l, unique_id_r, match_probability FROM "
        f"{predictions.physical_name}"
    ).to_arrow_table()
    lap("predict")
    seconds = time.perf_counter() - started
    peak = _peak_bytes()
    con.close()
    left_is_a = pc.equal(scored.column("source_dataset_l"), "set_a").to_numpy(zero_copy_only=False)
    ids_l = scored.column("unique_id_l").to_numpy().astype(np.int64)
    ids_r = scored.column("unique_id_r").to_numpy().astype(np.int64)
    quality = quality_of_pairs(
        np.where(left_is_a, ids_l, ids_r),
        np.where(left_is_a, ids_r, ids_l),
        scored.column("match_probability").to_numpy().astype(np.float64),
        _truth(folder),
    )
    return {"seconds": seconds, "peak": peak, "timings": timings, **quality}


def run_blocking(base: Path) -> dict[str, Any]:
    """Candidate pairs each blocking rule makes on the keyed inputs (equal tokens on every field
    of the rule; before any rule's pairs are taken out of another's): all pairs of the records,
    as a dedupe of both sets together draws them, and the pairs across the two sets."""
    tables = [
        pq.read_table(base / "linkage" / item.tokens_path, columns=[f"tok_{f}" for f in FIELDS])
        for item in _inputs(base)
    ]
    side = np.repeat(np.arange(len(tables)), [t.num_rows for t in tables])
    combined = pa.concat_tables(tables)
    codes = {}
    for field in FIELDS:
        encoded = pc.dictionary_encode(combined.column(f"tok_{field}").combine_chunks())
        codes[field] = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    counted = []
    for rule in CANDIDATE_RULES:
        stacked = np.stack([codes[f] for f in rule], axis=1)
        present = (stacked >= 0).all(axis=1)
        _, key = np.unique(stacked[present], axis=0, return_inverse=True)
        key = key.reshape(-1)
        in_a = np.bincount(key[side[present] == 0])
        in_b = np.bincount(key[side[present] == 1], minlength=in_a.size)
        in_a = np.pad(in_a, (0, in_b.size - in_a.size))
        n = in_a + in_b
        counted.append(
            {
                "rule": " & ".join(rule),
                "all_pairs": int((n * (n - 1) // 2).sum()),
                "across_pairs": int((in_a * in_b).sum()),
            }
        )
    return {"rules": counted}


# ------------------------------------------------------------------------------ orchestration


def _worker(task: str, timeout: float | None = None, **args: Any) -> dict[str, Any]:
    """Run ``task`` in a fresh process (its own peak RSS), in a scratch working directory (DuckDB
    spills there); a run past ``timeout`` seconds is stopped and reported as such."""
    with tempfile.TemporaryDirectory(prefix="bench-linkage-") as tmp:
        out = Path(tmp) / "result.json"
        given = json.dumps({k: str(v) for k, v in args.items()})
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--worker", task, "--out", str(out), "--args", given]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
        started = time.perf_counter()
        try:
            subprocess.run(command, check=True, env=env, cwd=tmp, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"timed_out": True, "seconds": time.perf_counter() - started}
        except subprocess.CalledProcessError as exc:
            return {"failed": exc.returncode, "seconds": time.perf_counter() - started}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        result["process_seconds"] = time.perf_counter() - started
        return result


def _threshold(args: dict[str, str]) -> float | None:
    return float(args["threshold"]) if args.get("threshold", "None") != "None" else None


def _worker_main(task: str, out: Path, args: dict[str, str]) -> None:
    tasks: dict[str, Callable[[], dict[str, Any]]] = {
        "prepare": lambda: prepare_keyed(Path(args["folder"]), Path(args["base"])),
        "exact": lambda: run_exact(Path(args["folder"]), Path(args["base"]), _threshold(args)),
        "keyed": lambda: run_keyed(Path(args["folder"]), Path(args["base"]), _threshold(args)),
        "splink": lambda: run_splink(Path(args["folder"])),
        "blocking": lambda: run_blocking(Path(args["base"])),
    }
    out.write_text(json.dumps(tasks[task](), default=str), encoding="utf-8")


# ------------------------------------------------------------------------------------ output


def _row(
    table: Table, label: str, run: dict[str, Any], measures: dict[str, Any] | None = None
) -> None:
    if run.get("timed_out") or run.get("failed") is not None:
        why = "timed out" if run.get("timed_out") else f"failed (exit {run['failed']})"
        table.add_row(label, f">{run['seconds']:.0f}" if run.get("timed_out") else "-", "-",
                      "-", "-", "-", why)  # fmt: skip
        return
    measures = measures or run
    seconds, peak = run["seconds"], run["peak"] / GiB
    notes = ", ".join(f"{k} {v:.1f} s" for k, v in run.get("timings", {}).items())
    table.add_row(
        label,
        f"{seconds:.1f}",
        f"{peak:.2f}",
        f"{measures['precision']:.4f}",
        f"{measures['recall']:.4f}",
        f"{measures['pairs']:,}",
        notes,
    )


def _table(rows: int, overlap: float, runs: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        title=f"linkage, {rows:,} against {rows:,} person records, {overlap:.0%} of B in A",
        title_justify="left",
    )
    for column, justify in (("configuration", "left"), ("seconds", "right"),
                            ("peak GiB", "right"), ("precision", "right"), ("recall", "right"),
                            ("A-B pairs", "right"), ("where the time goes", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    if "exact" in runs:
        _row(table, "hub: exact tokens (baseline)", runs["exact"])
    if "keyed" in runs:
        _row(table, "hub: keyed probabilistic", runs["keyed"])
    splink = runs.get("splink")
    if splink is not None:
        if "usual" in splink:
            _row(table, f"splink cleartext @ {SPLINK_THRESHOLD}", splink, splink["usual"])
            best = splink["best"]
            label = f"splink cleartext @ {best['threshold']:.4g} (lowest >= 0.5, P >= 0.995)"
            _row(table, label, splink, best)
        else:
            _row(table, "splink cleartext", splink)
    return table


def _verdict(runs: dict[str, dict[str, Any]]) -> list[str]:
    keyed, splink = runs.get("keyed", {}), runs.get("splink", {})
    if "precision" not in keyed:
        return ["keyed probabilistic: no result"]
    lines = [
        f"time {keyed['seconds']:.1f} s (target <= {TARGET_SECONDS:.0f}): "
        f"{'met' if keyed['seconds'] <= TARGET_SECONDS else 'NOT met'}",
        f"peak {keyed['peak'] / GiB:.2f} GiB (target <= {TARGET_GIB:.0f}): "
        f"{'met' if keyed['peak'] / GiB <= TARGET_GIB else 'NOT met'}",
        f"precision {keyed['precision']:.4f} (target >= {TARGET_PRECISION}): "
        f"{'met' if keyed['precision'] >= TARGET_PRECISION else 'NOT met'}",
    ]
    if "usual" in splink:
        reference = splink["usual"]["recall"]
        lines.append(
            f"recall {keyed['recall']:.4f} (target >= the cleartext reference's "
            f"{reference:.4f}): {'met' if keyed['recall'] >= reference else 'NOT met'}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records per set")
    parser.add_argument("--overlap", type=float, default=0.4, help="share of B's people in A")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "hub-bench-linkage"
    )
    parser.add_argument("--skip-cleartext", action="store_true", help="do not run splink")
    parser.add_argument(
        "--threshold",
        type=float,
        help="the hub's match probability threshold (default: contracts/linkage/linkage.yaml's)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also count the hub's candidate pairs per rule"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="stop a configuration after this many seconds"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument(
        "--worker", choices=["prepare", "exact", "keyed", "splink", "blocking"],
        help=argparse.SUPPRESS,
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker_main(args.worker, args.out, json.loads(args.args))
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    folder = person_records(args.cache, args.rows, args.overlap, args.seed)
    generated = json.loads((folder / "generated.json").read_text(encoding="utf-8"))["seconds"]
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="keyed-", dir=args.cache) as tmp:
        base = Path(tmp)
        prepared = _worker("prepare", folder=folder, base=base)
        if "seconds" not in prepared or prepared.get("failed") is not None:
            raise SystemExit("preparing the keyed inputs failed")
        keyed_args = {"folder": folder, "base": base, "threshold": args.threshold}
        runs["exact"] = _worker("exact", args.timeout, **keyed_args)
        runs["keyed"] = _worker("keyed", args.timeout, **keyed_args)
        if args.profile:
            runs["blocking"] = _worker("blocking", args.timeout, base=base)
    if not args.skip_cleartext:
        runs["splink"] = _worker("splink", args.timeout, folder=folder)
    console.print(_table(args.rows, args.overlap, runs))
    console.print(
        f"  inputs: generated in {generated:.0f} s (cached); keyed inputs (tokens and Bloom "
        f"filters of both sets, as staging writes them) prepared in {prepared['seconds']:.1f} s, "
        "not timed as linkage"
    )
    keyed = runs["keyed"]
    if "precision" in keyed:
        console.print(
            f"  keyed probabilistic: {keyed['compared']:,} profiles compared, "
            f"{keyed['links']:,} links joined clusters; {keyed['within_set_pairs']:,} pairs "
            "within one set share a cluster (false: no set holds a person twice); peak after the "
            f"deterministic passes {keyed['peak_deterministic'] / GiB:.2f} GiB; exact tokens "
            f"alone: {runs['exact'].get('within_set_pairs', 0):,} such pairs"
        )
        calls = ", ".join(f"{k} {v:.1f} s" for k, v in keyed.get("splink_calls", {}).items())
        console.print(f"  keyed probabilistic, splink's calls inside: {calls}")
    for rule in runs.get("blocking", {}).get("rules", []):
        console.print(
            f"  candidate pairs blocking on {rule['rule']}: {rule['all_pairs']:,} among all "
            f"records, {rule['across_pairs']:,} across the sets"
        )
    console.print(
        f"  targets, keyed encodings only: <= {TARGET_SECONDS:.0f} s and <= {TARGET_GIB:.0f} GiB "
        f"peak at 1,000,000 x 1,000,000 on this 2-core machine; recall >= the cleartext "
        f"reference's on the same data, at precision >= {TARGET_PRECISION}"
    )
    for line in _verdict(runs):
        console.print(f"  {line}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
