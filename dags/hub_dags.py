"""The hub's Airflow DAGs: one per agreement in contracts/, and the one-picture DAG.

The file stays thin: the DAGs are built by hub.pipeline.dags from the agreement files.
"""

from hub.agreements import load_agreements
from hub.pipeline.dags import build_dags
from hub.settings import Settings

globals().update(build_dags(load_agreements(Settings().contracts_dir)))
