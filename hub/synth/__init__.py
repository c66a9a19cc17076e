"""The synthetic partnership: a seeded, fictional Serious Violence Duty partnership-year.

``generate_partnership(out_dir, seed=..., rows=..., noise=...)`` writes the extracts five
partners' systems would send (police, ED, ambulance, youth justice, schools), the postcode to
LSOA reference file, and the ground truth (who each row really is) that tests and benchmarks use
to measure linkage and to scan hub outputs for leaked identities. The hub itself never reads
``ground_truth/``. Layout::

    extracts/police-sv.csv  ed-assaults.csv  ambulance-assaults.csv  youth-justice.parquet
             schools.csv
    reference/postcode_lsoa.csv
    ground_truth/truth.parquet  people.parquet
    synth.json
"""

from hub.synth.generate import DEFAULT_SEED, SynthSummary, generate_partnership

__all__ = ["DEFAULT_SEED", "SynthSummary", "generate_partnership"]
