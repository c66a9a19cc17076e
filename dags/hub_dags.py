"""The hub's DAGs: one per agreement in contracts/, and the one-picture DAG. Logic lives in hub."""

from hub.agreements import load_agreements
from hub.pipeline.dags import build_dags
from hub.settings import Settings

globals().update(build_dags(load_agreements(Settings().contracts_dir)))
