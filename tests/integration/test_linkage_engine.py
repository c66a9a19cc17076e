"""The linkage run: deterministic passes, then splink on keyed encodings, incrementally, with a
saved model and saved links; checked against the synthetic partnership's ground truth.

A partnership (20,000 rows, five feeds) is received and staged once into a template
installation by calling the pipeline functions directly (no Airflow); each test links a copy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hub.errors import InfrastructureError, IntegrityError
from hub.linkage import LinkInput
from hub.linkage.config import LinkageConfig, ProbabilisticConfig
from hub.linkage.engine import LOCK_FILE, Linkage, linked_now, run_linkage
from hub.linkage.evaluation import LinkageQuality, evaluate
from hub.locks import exclusive
from hub.privacy.rotation import token_files
from hub.settings import Settings
from hub.storage import zone_store
from tests.conftest import make_settings
from tests.partnership import stage_partnership

pytestmark = pytest.mark.slow
ROWS = 20_000
LATE = "ed-assaults"  # the feed that arrives after the others in the incremental tests
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = LinkageConfig()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("linkage-template")
    engine = stage_partnership(base, ROWS)[1]
    engine.dispose()
    return base


@dataclass
class Hub:
    settings: Settings
    truth: pa.Table
    inputs: list[LinkInput]

    def without(self, agreement_id: str) -> list[LinkInput]:
        return [i for i in self.inputs if i.agreement_id != agreement_id]

    def run(self, inputs: list[LinkInput] | None = None, **kwargs: object) -> Linkage:
        options: dict[str, object] = {"config": CONFIG, "now": NOW, **kwargs}
        return run_linkage(
            self.settings,
            self.inputs if inputs is None else inputs,
            encoding_version=1,
            **options,  # type: ignore[arg-type]
        )

    def quality(self, linkage: Linkage) -> LinkageQuality:
        return evaluate(linkage.records, self.truth)

    def state(self) -> Path:
        return self.settings.zone("linkage") / "_state"


@pytest.fixture
def hub(template: Path, tmp_path: Path) -> Iterator[Hub]:
    shutil.copytree(template, tmp_path / "hub")
    settings = make_settings(tmp_path / "hub")
    truth = pq.read_table(tmp_path / "hub" / "partners" / "ground_truth" / "truth.parquet")
    inputs = [link_input(p) for p in token_files(zone_store(settings, "linkage"))]
    assert len(inputs) == 5
    yield Hub(settings, truth, inputs)


def link_input(path: str) -> LinkInput:
    """The extract whose tokens file is at ``path`` in the linkage zone."""
    agreement_id, extract_id, _ = path.split("/")
    return LinkInput(agreement_id, extract_id, path)


def _pairs(links: pa.Table) -> set[tuple[str, int, str, int]]:
    return set(
        zip(
            links.column("extract_l").to_pylist(),
            links.column("record_l").to_pylist(),
            links.column("extract_r").to_pylist(),
            links.column("record_r").to_pylist(),
            strict=True,
        )
    )


def test_a_first_run_trains_a_model_and_joins_people_the_exact_passes_split(hub: Hub) -> None:
    linkage = hub.run()
    exact, linked = evaluate(linkage.deterministic.records, hub.truth), hub.quality(linkage)
    assert linked.precision >= 0.995
    assert linked.recall > exact.recall and linked.split_people < exact.split_people
    report = linkage.report["probabilistic"]
    assert isinstance(report, dict)
    assert (report["run"], report["reason"], report["model"]["version"]) == (
        "full relink",
        "first run",
        1,
    )
    assert report["links_in_force"] == linkage.links.num_rows > 0
    # every link keeps its match weight, its probability and the model that made it
    assert (
        pc.min(linkage.links.column("match_probability")).as_py() >= CONFIG.probabilistic.threshold
    )
    assert linkage.links.column("match_weight").null_count == 0
    assert set(linkage.links.column("model_version").to_pylist()) == {1}
    assert set(linkage.links.column("pass").to_pylist()) == {"probabilistic"}
    # and the records say which pass linked them
    linked_by = linkage.records.column("linked_by").to_pylist()
    assert sum("probabilistic" in v for v in linked_by) == report["records_linked"] > 0
    assert pq.read_table(hub.state() / "records.parquet").equals(linkage.records)  # for audit
    model = json.loads((hub.state() / "models" / "model-0001.json").read_text())
    assert model["format"] == "svd-hub-linkage-model" and model["records"] == ROWS
    levels = [c["output_column_name"] for c in model["splink"]["comparisons"]]
    assert levels == ["date_of_birth", "sex", "postcode", "forename", "surname"]
    # the model and the links hold no token: only codes' statistics and record numbers
    store = zone_store(hub.settings, "linkage")
    tokens = {
        t
        for p in token_files(store)
        for t in store.read_parquet(p, columns=["tok_surname"]).column(0).to_pylist()
        if t
    }
    saved = b"".join(p.read_bytes() for p in hub.state().rglob("*") if p.is_file())
    assert not any(t in saved or t.hex().encode() in saved for t in list(tokens)[:500])


def test_a_new_extract_is_linked_to_the_population_without_relinking_it(hub: Hub) -> None:
    first = hub.run(hub.without(LATE))
    later = hub.run()
    report = later.report["probabilistic"]
    assert isinstance(report, dict)
    assert (report["run"], report["model"]["version"]) == ("incremental", 1)  # no new model
    assert not (hub.state() / "models" / "model-0002.json").exists()
    assert _pairs(first.links) <= _pairs(later.links)  # earlier links kept
    late = {i.extract_id for i in hub.inputs if i.agreement_id == LATE}
    new = _pairs(later.links) - _pairs(first.links)
    assert new and all(a in late or b in late for a, _, b, _ in new)
    # nearly as good as linking everything again (whose model also learnt from the late feed)
    full = hub.run(full_relink=True)
    assert full.report["probabilistic"]["model"]["version"] == 2  # type: ignore[index]
    incremental, relinked = hub.quality(later), hub.quality(full)
    assert incremental.precision >= 0.995
    assert incremental.recall > evaluate(later.deterministic.records, hub.truth).recall
    assert incremental.recall >= relinked.recall - 0.005


def test_running_again_with_nothing_new_scores_nothing_and_changes_nothing(hub: Hub) -> None:
    first = hub.run()
    saved = {p.name: p.read_bytes() for p in hub.state().iterdir() if p.is_file()}
    again = hub.run(now=NOW + timedelta(days=1))
    assert again.report["probabilistic"]["new_links"] == 0  # type: ignore[index]
    assert again.records.equals(first.records)
    assert {p.name: p.read_bytes() for p in hub.state().iterdir() if p.is_file()} == saved
    assert linked_now(hub.settings, hub.inputs, CONFIG).records.equals(first.records)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"config": LinkageConfig(probabilistic=ProbabilisticConfig(threshold=0.9))}, "threshold"),
        (
            {"config": LinkageConfig(probabilistic=ProbabilisticConfig(dice_levels=(0.8,)))},
            "probabilistic settings",
        ),
        ({"now": NOW + timedelta(days=90)}, "90 days since the last full relink"),
    ],
)
def test_changed_settings_or_an_old_relink_link_everything_again(
    hub: Hub, change: dict[str, object], reason: str
) -> None:
    hub.run()
    again = hub.run(**change)
    report = again.report["probabilistic"]
    assert isinstance(report, dict)
    assert report["run"] == "full relink" and reason in report["reason"]
    assert report["model"]["version"] == 2


def test_links_of_an_extract_no_longer_in_force_drop_out(hub: Hub) -> None:
    everything = hub.run()
    late = {i.extract_id for i in hub.inputs if i.agreement_id == LATE}
    assert any(a in late or b in late for a, _, b, _ in _pairs(everything.links))
    without = hub.run(hub.without(LATE))
    assert _pairs(without.links) == {
        p for p in _pairs(everything.links) if p[0] not in late and p[2] not in late
    }
    assert not late & set(json.loads((hub.state() / "state.json").read_text())["linked_extracts"])


def test_a_crash_before_the_state_is_saved_links_the_same_on_the_next_run(hub: Hub) -> None:
    hub.run(hub.without(LATE))
    old_state = (hub.state() / "state.json").read_bytes()
    done = hub.run()
    # the process died after links.parquet was replaced but before state.json was
    (hub.state() / "state.json").write_bytes(old_state)
    again = hub.run()
    assert _pairs(again.links) == _pairs(done.links) and again.links.num_rows == len(
        _pairs(done.links)
    )
    assert again.records.equals(done.records)


def test_a_damaged_state_or_model_is_a_clear_error(hub: Hub) -> None:
    hub.run()
    (hub.state() / "state.json").write_text("{not json")
    with pytest.raises(IntegrityError, match=r"linkage state .* is damaged") as raised:
        hub.run()
    assert "--full-relink" in (raised.value.hint or "")
    hub.run(full_relink=True)  # the way out the hint gives
    (hub.state() / "models" / "model-0002.json").write_text("[]")
    with pytest.raises(IntegrityError, match=r"linkage model .* is damaged"):
        hub.run()


def test_probabilistic_matching_can_be_switched_off(hub: Hub) -> None:
    linkage = hub.run(config=LinkageConfig(probabilistic=ProbabilisticConfig(enabled=False)))
    assert "probabilistic" not in linkage.report and linkage.links.num_rows == 0
    assert linkage.records.equals(linkage.deterministic.records)
    assert not hub.state().exists()


def test_too_few_records_to_train_on_link_on_the_exact_passes_and_say_so(hub: Hub) -> None:
    small = [i for i in hub.inputs if i.agreement_id == "ambulance-assaults"]
    linkage = hub.run(small)
    assert linkage.records.num_rows < 1000
    assert linkage.report["probabilistic"] == {
        "run": "skipped",
        "reason": f"{linkage.records.num_rows:,} records are too few to train a model on "
        "(at least 1,000)",
    }
    assert linkage.records.equals(linkage.deterministic.records)
    assert not (hub.state() / "state.json").exists()
    assert hub.run().report["probabilistic"]["reason"] == "first run"  # type: ignore[index]


def test_one_linkage_run_at_a_time(hub: Hub) -> None:
    """A second run (say `hub publish` by hand while the DAG runs) is refused at once, before it
    reads or writes the state, and the lock goes with the holder."""
    busy = InfrastructureError("held by the test")
    with exclusive(hub.settings.data_dir / LOCK_FILE, busy):
        with pytest.raises(InfrastructureError, match="another linkage run") as raised:
            hub.run()
        assert "wait for" in (raised.value.hint or "")
        assert not (hub.state() / "state.json").exists()
    assert hub.run().report["probabilistic"]["run"] == "full relink"  # type: ignore[index]
