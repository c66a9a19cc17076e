"""The hub's Airflow DAGs: one per agreement in contracts/, and the one-picture DAG.

The file stays thin: the DAGs are built by hub.pipeline.dags from the agreement files. A broken
agreement file is logged (file, line, rule) and skipped; it does not stop the other DAGs.
"""

import logging

from hub.agreements.loader import load_agreements_leniently
from hub.pipeline.dags import build_dags
from hub.settings import Settings

_agreements, _broken = load_agreements_leniently(Settings().contracts_dir)
for _error in _broken:
    logging.getLogger("hub.dags").error("agreement file skipped: %s", _error.message)
globals().update(build_dags(_agreements))
