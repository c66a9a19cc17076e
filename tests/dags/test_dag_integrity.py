"""Every file in dags/ imports without error, and the DAGs match the agreements."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.agreements import load_agreements
from hub.pipeline.airflow_env import DAGS_FOLDER
from hub.pipeline.dags import ONE_PICTURE_DAG_ID, RETENTION_DAG_ID, agreement_dag_id
from tests.conftest import CONTRACTS

pytestmark = pytest.mark.airflow


def test_every_dag_file_imports(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    expected = {agreement_dag_id(a) for a in load_agreements(CONTRACTS)} | {
        ONE_PICTURE_DAG_ID,
        RETENTION_DAG_ID,
    }
    assert set(bag.dag_ids) == expected


def test_agreement_dags_are_thin_and_safe(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag.catchup is False
        assert dag.tags
        for task in dag.tasks:
            assert task.retries >= 2
    police = bag.get_dag(agreement_dag_id("police-sv"))
    assert "police-sv" in (police.doc_md or "")
    assert [t.task_id for t in police.tasks] == ["extracts_to_stage", "stage"]
    # runs on its landing Asset, and on its delivery schedule for the late-feed check
    timetable = police.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable._expression == "0 5 2 * *"  # contracts/police-sv.yaml
    assert bag.get_dag(RETENTION_DAG_ID).tasks[0].task_id == "apply_retention"


def test_a_broken_agreement_file_skips_only_its_own_dag(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for path in CONTRACTS.glob("*.yaml"):
        (contracts / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    broken = contracts / "schools.yaml"
    broken.write_text(broken.read_text().replace("round_to: 5", "round_to: 1"))
    monkeypatch.setenv("HUB_CONTRACTS_DIR", str(contracts))
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert agreement_dag_id("schools") not in bag.dag_ids
    assert agreement_dag_id("police-sv") in bag.dag_ids
