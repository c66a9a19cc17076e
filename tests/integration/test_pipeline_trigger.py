"""The in-process pipeline trigger (HUB_PIPELINE_TRIGGER=inprocess, the embedded default) stages
real sealed extracts on its background worker: once per extract, one at a time, a failure logged
as one line without row values, the extract's status truthful, and the worker carrying on.
The web app owns one trigger and closes it on shutdown."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.agreements import Agreement, get_agreement
from hub.errors import InfrastructureError
from hub.pipeline.landing import receive_extract
from hub.pipeline.trigger import InProcessTrigger, NoTrigger, trigger_for
from hub.store import Extract, session_scope
from hub.web.app import create_app
from hub.web.signin import Hub
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup
from tests.live_server import live_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extracts"
SMALL_CSV = (FIXTURES / "police-sv-small.csv").read_bytes()
# values of the fixture's rows: none may appear in a log line
ROW_VALUES = ("Fixturewright", "Testerby", "ZZ99", "URN90000", "24/900001A", "MV/24/000101")
WAIT = 60.0


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    api_hub = make_api_hub(tmp_path)
    write_postcode_lookup(api_hub.settings)
    yield api_hub
    api_hub.engine.dispose()


@pytest.fixture
def police(hub: ApiHub) -> Agreement:
    return get_agreement(hub.settings.contracts_dir, "police-sv")


@pytest.fixture
def pipeline_log() -> Iterator[list[logging.LogRecord]]:
    """Records of hub.pipeline (a handler of its own: the hub's logger may not propagate)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("hub.pipeline")
    handler, level = Keep(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def _receive(hub: ApiHub, agreement: Agreement, body: bytes = SMALL_CSV) -> str:
    extract = receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        agreement,
        sender_org=agreement.provider,
        source=io.BytesIO(body),
        source_name="police.csv",
    )
    return extract.id


def _status(hub: ApiHub, extract_id: str) -> str:
    with session_scope(hub.engine) as session:
        record = session.get(Extract, extract_id)
        assert record is not None
        return record.status


def _errors(records: list[logging.LogRecord]) -> list[str]:
    lines = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    for line in lines:
        assert "\n" not in line
        for value in ROW_VALUES:
            assert value not in line, f"a row value in a log line: {line}"
    return lines


def test_an_accepted_extract_is_staged_in_process(hub: ApiHub, police: Agreement) -> None:
    extract_id = _receive(hub, police)
    assert _status(hub, extract_id) == "received"
    trigger = InProcessTrigger(hub.settings, hub.engine)
    try:
        trigger.extract_received(police, extract_id)
        assert trigger.wait_idle(WAIT)
    finally:
        trigger.close()
    assert _status(hub, extract_id) == "staged"
    staged = hub.settings.zone("staging") / "police-sv" / extract_id / "data.parquet"
    tokens = hub.settings.zone("linkage") / "police-sv" / extract_id / "tokens.parquet"
    assert staged.is_file() and tokens.is_file()
    assert "hub-stage" not in {t.name for t in threading.enumerate()}, "the worker outlived close"


def test_a_failed_staging_is_logged_and_the_worker_carries_on(
    hub: ApiHub, police: Agreement, pipeline_log: list[logging.LogRecord]
) -> None:
    gone = _receive(hub, police)
    good = _receive(hub, police, SMALL_CSV.rsplit(b"\n", 2)[0] + b"\n")  # two rows: another file
    assert gone != good
    (hub.settings.data_dir / "landing" / "police-sv" / f"{gone}.sealed").unlink()
    trigger = InProcessTrigger(hub.settings, hub.engine, start=False)
    try:
        trigger.extract_received(police, gone)
        trigger.extract_received(police, good)
        trigger.start()
        assert trigger.wait_idle(WAIT)
    finally:
        trigger.close()
    assert _status(hub, gone) == "received"  # nothing was staged; it can be sent again
    assert _status(hub, good) == "staged"
    (line,) = _errors(pipeline_log)
    assert gone in line and "police-sv" in line
    assert "the landed file" in line and "status received" in line


def test_a_fault_of_the_hub_leaves_the_extract_received_to_be_triggered_again(
    hub: ApiHub, police: Agreement, pipeline_log: list[logging.LogRecord]
) -> None:
    extract_id = _receive(hub, police)
    blocker = hub.settings.zone("staging") / "police-sv"
    blocker.write_text("not a folder", encoding="utf-8")  # the output folder cannot be made
    trigger = InProcessTrigger(hub.settings, hub.engine)
    try:
        trigger.extract_received(police, extract_id)
        assert trigger.wait_idle(WAIT)
        (line,) = _errors(pipeline_log)
        assert "unexpected" in line and "Error at " in line and "status received" in line
        assert _status(hub, extract_id) == "received"  # not left "processing"
        assert not list(hub.settings.zone("linkage").rglob(".tmp-*"))

        blocker.unlink()
        trigger.extract_received(police, extract_id)  # the same extract, triggered again
        assert trigger.wait_idle(WAIT)
    finally:
        trigger.close()
    assert _status(hub, extract_id) == "staged"


def test_an_extract_waiting_or_being_staged_is_not_queued_again(
    hub: ApiHub, police: Agreement, pipeline_log: list[logging.LogRecord]
) -> None:
    extract_id = _receive(hub, police)
    trigger = InProcessTrigger(hub.settings, hub.engine, start=False)
    try:
        for _ in range(3):
            trigger.extract_received(police, extract_id)
        trigger.start()
        assert trigger.wait_idle(WAIT)
    finally:
        trigger.close()
    staged = [r for r in pipeline_log if r.getMessage().startswith(f"staged extract {extract_id}")]
    assert len(staged) == 1
    assert _status(hub, extract_id) == "staged"


def test_close_leaves_queued_extracts_received_and_refuses_more(
    hub: ApiHub, police: Agreement
) -> None:
    extract_id = _receive(hub, police)
    trigger = InProcessTrigger(hub.settings, hub.engine, start=False)
    trigger.extract_received(police, extract_id)
    trigger.close()
    assert trigger.wait_idle(0)
    assert _status(hub, extract_id) == "received"
    with pytest.raises(InfrastructureError) as refused:
        trigger.extract_received(police, extract_id)
    assert "shutting down" in refused.value.message
    assert f"hub extract stage police-sv {extract_id}" in (refused.value.hint or "")


def test_close_with_drain_stages_what_was_queued(hub: ApiHub, police: Agreement) -> None:
    extract_id = _receive(hub, police)
    trigger = InProcessTrigger(hub.settings, hub.engine, start=False)
    trigger.extract_received(police, extract_id)
    trigger.close(drain=True)
    assert _status(hub, extract_id) == "staged"


def test_the_web_app_owns_one_trigger_and_closes_it_on_shutdown(
    hub: ApiHub, police: Agreement
) -> None:
    assert isinstance(trigger_for(hub.settings), NoTrigger)  # what make_settings asks for
    settings = hub.settings.model_copy(update={"pipeline_trigger": "inprocess"})
    app = create_app(settings)
    owned = app.state.hub
    assert isinstance(owned, Hub)
    assert isinstance(owned.trigger, InProcessTrigger)
    with live_server(app):
        extract_id = _receive(hub, police)
        owned.trigger.extract_received(police, extract_id)
        assert owned.trigger.wait_idle(WAIT)
    assert _status(hub, extract_id) == "staged"
    with pytest.raises(InfrastructureError):  # closed with the app
        owned.trigger.extract_received(police, extract_id)


def test_extracts_waiting_or_interrupted_are_staged_when_the_hub_starts(
    hub: ApiHub, police: Agreement
) -> None:
    waiting = _receive(hub, police)
    interrupted = _receive(hub, police, SMALL_CSV + SMALL_CSV.split(b"\n", 1)[1])
    with session_scope(hub.engine) as session:
        record = session.get(Extract, interrupted)
        assert record is not None
        record.status = "processing"  # as a hub killed while staging it leaves it
    trigger = InProcessTrigger(hub.settings, hub.engine)
    try:
        assert trigger.resume_waiting() == 2
        assert trigger.wait_idle(WAIT)
    finally:
        trigger.close()
    assert (_status(hub, waiting), _status(hub, interrupted)) == ("staged", "staged")
