"""Building the hub's Airflow DAGs from the agreements: one per agreement, plus the one picture.

Importing this module does not touch the database, the keys or the network: DAG files call
``build_dags`` at parse time and it reads only the agreement YAML files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.agreements.model import Agreement

START = datetime(2025, 4, 1, tzinfo=UTC)
DEFAULT_ARGS = {
    "owner": "hub",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}
ONE_PICTURE_DAG_ID = "one_picture"


def agreement_dag_id(agreement_id: str) -> str:
    return f"agreement__{agreement_id.replace('-', '_')}"


def landing_asset(agreement_id: str) -> Any:
    from airflow.sdk import Asset

    return Asset(name=f"landing.{agreement_id}", uri=f"hub://landing/{agreement_id}")


def staged_asset(agreement_id: str) -> Any:
    from airflow.sdk import Asset

    return Asset(name=f"staging.{agreement_id}", uri=f"hub://staging/{agreement_id}")


def _doc(agreement: Agreement) -> str:
    fields = "\n".join(
        f"| {f.name} | {f.classification.value} | {f.treatment.value} |" for f in agreement.fields
    )
    return (
        f"# {agreement.title}\n\nAgreement `{agreement.id}` v{agreement.version}, provider "
        f"`{agreement.provider}`. Every run checks that this version is approved, signed by "
        "the named leads and in force before it touches the extract.\n\n"
        f"{agreement.purpose}\n\n| field | classification | treatment |\n|---|---|---|\n{fields}\n"
    )


def build_agreement_dag(agreement: Agreement) -> Any:
    """Receive -> stage for one agreement; runs on a landing Asset event or with an extract_id."""
    from airflow.sdk import Param, dag, get_current_context, task

    outlet = staged_asset(agreement.id)

    @dag(
        dag_id=agreement_dag_id(agreement.id),
        description=agreement.title,
        doc_md=_doc(agreement),
        schedule=[landing_asset(agreement.id)],
        start_date=START,
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        tags=["agreement", agreement.provider],
        params={"extract_id": Param("", type="string", description="extract to stage")},
    )
    def pipeline() -> None:
        @task
        def extract_to_stage() -> str:
            context = get_current_context()
            extract_id = str(context["params"].get("extract_id") or "")
            if not extract_id:
                for events in context.get("triggering_asset_events", {}).values():
                    for event in events:
                        extract_id = str(event.extra.get("extract_id", "")) or extract_id
            if not extract_id:
                raise ValueError("no extract_id in the run's params or triggering asset event")
            return extract_id

        @task(outlets=[outlet])
        def stage(extract_id: str) -> dict[str, object]:
            from hub.pipeline.tasks import run_stage

            return run_stage(agreement.id, extract_id)

        stage(extract_to_stage())  # type: ignore[arg-type]  # TaskFlow passes an XComArg

    return pipeline()


def build_one_picture_dag(agreements: list[Agreement]) -> Any:
    """Link and publish whenever any agreement's staging Asset is updated."""
    from airflow.sdk import dag, task

    assets = [staged_asset(a.id) for a in agreements]
    schedule: Any = None
    for asset in assets:
        schedule = asset if schedule is None else schedule | asset

    @dag(
        dag_id=ONE_PICTURE_DAG_ID,
        description="Link people across partners and publish the one-picture release",
        doc_md="Links every staged extract in force and publishes a versioned release.",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["one-picture"],
    )
    def one_picture() -> None:
        @task
        def publish() -> dict[str, object]:
            from hub.pipeline.tasks import run_publish

            return run_publish()

        publish()

    return one_picture()


def build_dags(agreements: dict[str, Agreement]) -> dict[str, Any]:
    """Every DAG of the hub, by DAG id."""
    dags = {agreement_dag_id(a.id): build_agreement_dag(a) for a in agreements.values()}
    dags[ONE_PICTURE_DAG_ID] = build_one_picture_dag(list(agreements.values()))
    return dags
