"""Great Expectations, set up once per process to be quiet, local and value-free.

- Its loggers are set to WARNING (it logs hundreds of INFO lines otherwise); progress bars and
  analytics are off (``GX_ANALYTICS_ENABLED=false``; GX 1.24 sends none, the switch stays for
  later versions).
- Contexts are ephemeral (in memory): no project folder, no stores on disk.
- GX's pandas engine fingerprints every in-memory batch with an MD5 of all its values
  (``batch_markers.pandas_data_fingerprint``), twice per validation. That is a digest of the data
  in every result and, for Arrow-backed frames, most of the run time (element by element in
  Python: 3.4 s of 5.4 s on 1M rows). ``quiet_gx`` turns it off by setting the engine's size
  threshold for it (``HASH_THRESHOLD``) to 0; ``tests/integration/test_gx_validation.py`` fails if
  a GX upgrade brings the fingerprint back.
- ``RESULT_FORMAT`` asks for counts and row numbers only: ``exclude_unexpected_values`` drops the
  unexpected values and their counts, ``unexpected_index_column_names=["record"]`` locates failing
  rows by the stage step's record number (the frame's index), and
  ``return_unexpected_index_query=False`` drops the pandas "query" that lists every failing index.
  ``hub.quality.scrub`` still rebuilds every result from an allow-list before it is kept.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from hub.quality.rules import RECORD

if TYPE_CHECKING:
    from great_expectations.data_context.data_context.ephemeral_data_context import (
        EphemeralDataContext,
    )

FIRST_ROWS = 20  # row numbers kept per expectation (as the stage report's QualityTally)

RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "unexpected_index_column_names": [RECORD],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": FIRST_ROWS,
    "include_unexpected_rows": False,
}

_NOISY = ("great_expectations", "great_expectations.core", "great_expectations.data_context")
_quieted = False


def quiet_gx() -> None:
    """Silence GX and turn off its data fingerprint (idempotent; imports GX)."""
    global _quieted  # noqa: PLW0603 (once per process)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    if _quieted:
        return
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine

    pandas_engine.HASH_THRESHOLD = 0  # never fingerprint batches
    _quieted = True


def ephemeral_context() -> EphemeralDataContext:
    """A fresh in-memory GX context with progress bars and analytics off."""
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def gx_version() -> str:
    import great_expectations as gx

    return str(gx.__version__)
