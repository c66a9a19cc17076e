"""Staging generalises as the agreement says: an agreement's own age bands replace the
partnership's default ones."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import init_keyring
from hub.store import make_engine, upgrade
from hub.synth import generate_partnership
from tests.conftest import CONTRACTS, make_settings

ON = date(2026, 6, 1)


def test_custom_age_bands_are_used_in_staging(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    text = (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")
    text = text.replace("output: age_band}", "output: age_band, age_bands: [0, 18, 25]}")
    assert "age_bands: [0, 18, 25]" in text
    (contracts / "police-sv.yaml").write_text(text, encoding="utf-8")
    settings = make_settings(tmp_path, contracts_dir=contracts)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    summary = generate_partnership(tmp_path / "partners", rows=1000)
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(
        tmp_path / "partners" / "reference" / "postcode_lsoa.csv",
        settings.reference_dir / "postcode_lsoa.csv",
    )
    agreement = get_agreement(contracts, "police-sv")
    approve_for_development(settings, engine, [agreement])
    ring = init_keyring(settings)
    with summary.files["police-sv"].open("rb") as source:
        extract = receive_extract(
            settings,
            engine,
            ring,
            agreement,
            sender_org=agreement.provider,
            source=source,
            source_name="police.csv",
            today=ON,
        )
    result = stage_extract(settings, engine, ring, agreement, extract.id, today=ON)
    staged = pq.read_table(
        settings.zone("staging") / "police-sv" / extract.id / "data.parquet", columns=["age_band"]
    )
    bands = set(pc.unique(staged.column("age_band")).to_pylist()) - {None}
    assert bands == {"0-17", "18-24", "25+"}
    assert result.rows == staged.num_rows
    engine.dispose()
