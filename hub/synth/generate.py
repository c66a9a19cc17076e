"""``generate_partnership``: plan the partnership-year, then write every file.

Planning happens first and in memory, as compact numeric arrays (who appears on which row, when,
where, for what); text is only made while writing, chunk by chunk. Each component draws from its
own random stream (``numpy`` ``SeedSequence`` keyed by the seed and a component number), so the
same seed and arguments always give the same bytes, and a different seed different data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa

from hub.errors import UserError
from hub.synth import tables
from hub.synth.areas import build_geography, write_reference
from hub.synth.health import plan_ambulance, plan_ed
from hub.synth.names import build_name_pools
from hub.synth.noise import NoiseRates
from hub.synth.police import plan_police
from hub.synth.population import Population, PopulationBuilder
from hub.synth.render import Context
from hub.synth.volumes import (
    AMBULANCE,
    ED,
    FEEDS,
    PERIOD_END,
    PERIOD_START,
    POLICE,
    SCHOOLS,
    YOUTH_JUSTICE,
    planned_rows,
)
from hub.synth.writer import CHUNK_ROWS, TableWriter, truth_table, write_json, write_people
from hub.synth.youth import plan_schools, plan_youth_justice

DEFAULT_SEED: Final = 2025
GENERATOR_VERSION: Final = "1.0.0"
MAX_NOISE: Final = 10.0
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class SynthSummary:
    """What one run wrote: where, with which seed, how many rows per feed and people."""

    out_dir: Path
    seed: int
    noise: float
    rows: dict[str, int]
    people: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


def _check(seed: int, noise: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise UserError("seed must be a non-negative whole number", hint="for example --seed 2025")
    if (
        not isinstance(noise, int | float)
        or not math.isfinite(noise)
        or not 0 <= noise <= MAX_NOISE
    ):
        raise UserError(
            f"noise must be a number between 0 and {MAX_NOISE:g}",
            hint="1.0 is realistic, 0 gives clean identifiers, 2.0 doubles every noise rate",
        )


def generate_partnership(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    rows: int | None = None,
    noise: float = 1.0,
    progress: Progress | None = None,
) -> SynthSummary:
    """Write one fictional partnership-year of partner extracts, reference data and truth.

    ``rows=None`` gives the default volumes (84,250 rows); otherwise ``rows`` (1,000 to
    10,000,000) is split across the feeds in the same proportions. ``noise`` multiplies every
    identifier noise rate (0 = clean identifiers). ``progress`` is called with a feed's
    agreement id and the rows written so far after every chunk.
    """
    _check(seed, noise)
    counts = planned_rows(rows)
    out_dir = Path(out_dir)
    geo = build_geography()
    builder = PopulationBuilder(geo, build_name_pools(seed), _stream(seed, 1))
    police = plan_police(_stream(seed, 2), counts[POLICE], builder, geo)
    ed = plan_ed(_stream(seed, 3), counts[ED], builder, geo, police)
    ambulance = plan_ambulance(_stream(seed, 4), counts[AMBULANCE], builder, geo, police, ed)
    youth = plan_youth_justice(_stream(seed, 5), counts[YOUTH_JUSTICE], builder, police)
    schools = plan_schools(_stream(seed, 6), counts[SCHOOLS], builder, geo, police, youth)
    pop = builder.build()
    ctx = Context.create(pop, geo, NoiseRates().scaled(float(noise)))
    files = {"reference": out_dir / "reference" / "postcode_lsoa.csv"}
    write_reference(geo, files["reference"])
    renderers: dict[str, tuple[Any, Any]] = {
        POLICE: (tables.police, police),
        ED: (tables.ed, ed),
        AMBULANCE: (tables.ambulance, ambulance),
        YOUTH_JUSTICE: (tables.youth_justice, youth),
        SCHOOLS: (tables.schools, schools),
    }
    files["truth"] = out_dir / "ground_truth" / "truth.parquet"
    with TableWriter(files["truth"]) as truth:
        for number, (feed, (render, plan)) in enumerate(renderers.items()):
            files[feed] = out_dir / "extracts" / FEEDS[feed][1]
            _write_feed(feed, render, plan, counts[feed], pop, ctx, files[feed], truth, seed,
                        number, progress)  # fmt: skip
    files["people"] = out_dir / "ground_truth" / "people.parquet"
    write_people(pop, files["people"])
    files["manifest"] = out_dir / "synth.json"
    write_json(
        files["manifest"],
        {
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "rows": sum(counts.values()),
            "noise": float(noise),
            "period": {"start": PERIOD_START.isoformat(), "end": PERIOD_END.isoformat()},
            "rows_per_feed": counts,
            "people": pop.size,
        },
    )
    return SynthSummary(out_dir, seed, float(noise), counts, pop.size, files)


def _write_feed(
    feed: str,
    render: Callable[[Any, slice, Context, np.random.Generator], pa.Table],
    plan: Any,
    n_rows: int,
    pop: Population,
    ctx: Context,
    path: Path,
    truth: TableWriter,
    seed: int,
    number: int,
    progress: Progress | None,
) -> None:
    person = plan.rows["person"]
    with TableWriter(path) as writer:
        for chunk, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            sl = slice(start, min(start + CHUNK_ROWS, n_rows))
            writer.write(render(plan, sl, ctx, _stream(seed, 100 + number, chunk)))
            truth.write(truth_table(feed, start + 1, pop.person_ids(person[sl])))
            if progress is not None:
                progress(feed, sl.stop)
