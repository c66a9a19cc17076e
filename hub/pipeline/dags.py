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
RETENTION_DAG_ID = "retention"


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


def _schedule(agreement: Agreement) -> Any:
    """Runs on the agreement's landing Asset (an extract was received) or on its delivery
    schedule (cron in its timezone), when the delivery check looks at the period just ended."""
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.trigger import CronTriggerTimetable

    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            agreement.delivery.schedule, timezone=agreement.delivery.timezone
        ),
        assets=landing_asset(agreement.id),
    )


def build_retention_dag() -> Any:
    """Apply every agreement's retention once a day."""
    from airflow.sdk import dag, task

    @dag(
        dag_id=RETENTION_DAG_ID,
        description="Delete what each agreement's retention no longer allows, and audit it",
        doc_md="Applies `retention` of every agreement to landing, staging, linkage and "
        "published (`hub.retention`). Every deletion is written to the audit log.",
        schedule="@daily",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["retention"],
    )
    def retention() -> None:
        @task
        def apply_retention() -> dict[str, object]:
            from hub.pipeline.tasks import run_retention

            return run_retention()

        apply_retention()

    return retention()


def build_agreement_dag(agreement: Agreement) -> Any:
    """Receive -> stage for one agreement; runs on a landing Asset event or with an extract_id."""
    from airflow.sdk import Param, dag, get_current_context, task

    outlet = staged_asset(agreement.id)

    @dag(
        dag_id=agreement_dag_id(agreement.id),
        description=agreement.title,
        doc_md=_doc(agreement),
        schedule=_schedule(agreement),
        start_date=START,
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        tags=["agreement", agreement.provider],
        params={"extract_id": Param("", type="string", description="extract to stage")},
    )
    def pipeline() -> None:
        @task
        def extracts_to_stage() -> list[str]:
            """The run's ``extract_id`` param; or the extracts of its landing events still
            waiting (another run may have staged one meanwhile); or, on a run of the agreement's
            delivery schedule, the delivery check and any extract whose trigger was missed."""
            context = get_current_context()
            wanted = str(context["params"].get("extract_id") or "")
            if wanted:  # an operator's run: staged whatever its status
                return [wanted]
            ids: list[str] = []
            for events in context.get("triggering_asset_events", {}).values():
                ids.extend(str(e.extra["extract_id"]) for e in events if e.extra.get("extract_id"))
            if ids:
                from hub.pipeline.tasks import still_waiting

                return still_waiting(list(dict.fromkeys(ids)))
            from hub.pipeline.tasks import run_delivery_check

            return run_delivery_check(agreement.id, context.get("logical_date"))

        @task(outlets=[outlet])
        def stage(extract_id: str) -> dict[str, object]:
            from hub.pipeline.tasks import run_stage

            return run_stage(agreement.id, extract_id)

        stage.expand(extract_id=extracts_to_stage())

    return pipeline()


def build_one_picture_dag(agreements: list[Agreement]) -> Any:
    """Link and publish whenever any agreement's staging Asset is updated."""
    from airflow.sdk import Param, dag, get_current_context, task

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
        params={
            "full_relink": Param(
                False,
                type="boolean",
                description="score every pair again with a newly trained linkage model",
            )
        },
    )
    def one_picture() -> None:
        @task
        def publish() -> dict[str, object]:
            from hub.pipeline.tasks import run_publish

            params = get_current_context()["params"]
            return run_publish(full_relink=bool(params.get("full_relink", False)))

        publish()

    return one_picture()


def build_dags(agreements: dict[str, Agreement]) -> dict[str, Any]:
    """Every DAG of the hub, by DAG id."""
    dags = {agreement_dag_id(a.id): build_agreement_dag(a) for a in agreements.values()}
    dags[ONE_PICTURE_DAG_ID] = build_one_picture_dag(list(agreements.values()))
    dags[RETENTION_DAG_ID] = build_retention_dag()
    return dags
