"""What an accepted extract starts: its agreement's pipeline.

``trigger_for(settings)`` gives the ``PipelineTrigger`` that ``HUB_PIPELINE_TRIGGER`` names:

- ``inprocess`` (the embedded default): ``InProcessTrigger`` stages the extract in the hub's own
  process, one extract at a time on a background thread, so an upload is answered at once.
- ``airflow`` (production): ``AirflowTrigger`` posts an event for the agreement's landing Asset
  (``hub://landing/<agreement>``) with ``extra={"extract_id": ...}`` through Airflow 3's REST API;
  the agreement's DAG (``hub.pipeline.dags``) is scheduled on that Asset.
- ``none``: nothing; extracts stay ``received`` until ``hub extract stage`` stages them.

A trigger that fails leaves the extract ``received`` and sealed in the landing zone, to be started
again. Log lines and errors name agreements and extracts, never row values.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx

from hub.errors import HubError, InfrastructureError
from hub.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.agreements.model import Agreement

log = logging.getLogger(__name__)

HUB_PACKAGE: Final = Path(__file__).resolve().parent.parent
LOGIN_PATH: Final = "/auth/token"  # Airflow 3's auth manager (SimpleAuthManager, FAB): a JWT
ASSETS_PATH: Final = "/api/v2/assets"
EVENTS_PATH: Final = "/api/v2/assets/events"


def landing_uri(agreement_id: str) -> str:
    """URI of an agreement's landing Asset (``hub.pipeline.dags.landing_asset`` declares it)."""
    return f"hub://landing/{agreement_id}"


class PipelineTrigger(Protocol):
    """Starts an agreement's pipeline for an extract that was just received."""

    def extract_received(self, agreement: Agreement, extract_id: str) -> None:
        """Start staging ``extract_id`` (already sealed and recorded as received)."""

    def close(self) -> None:
        """Release what the trigger holds (threads, connections)."""


class NoTrigger:
    """``HUB_PIPELINE_TRIGGER=none``: extracts wait for ``hub extract stage``."""

    def extract_received(self, agreement: Agreement, extract_id: str) -> None:
        log.info("extract %s of agreement %s waits to be staged", extract_id, agreement.id)

    def close(self) -> None:
        return None


# -- in-process ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    agreement: Agreement
    extract_id: str


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _where(exc: BaseException) -> str:
    """The exception's type and the innermost line of the hub it passed through, without its
    message (a third-party message may quote data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).is_relative_to(HUB_PACKAGE)]
    if not (ours or frames):
        return type(exc).__name__
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    shown = path.relative_to(HUB_PACKAGE.parent) if ours else Path(path.name)
    return f"{type(exc).__name__} at {shown.as_posix()}:{frame.lineno}"


class InProcessTrigger:
    """Stages extracts in the hub's own process, one at a time, on one background thread.

    ``extract_received`` only queues the extract; an extract already queued or being staged is
    not queued again. A failed staging is logged as one line and the worker carries on; the
    extract's status stays truthful (``rejected`` with a reason when the extract itself failed,
    as ``stage_extract`` records it; ``received`` when staging did not get to it or stopped on
    a fault of the hub). ``close`` finishes the staging under way and leaves queued extracts
    ``received``; ``close(drain=True)`` stages them first.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None, *, start: bool = True):
        from hub.store import make_engine

        self._settings = settings
        self._own_engine = engine is None
        self._engine = engine if engine is not None else make_engine(settings.metadata_url)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending: set[str] = set()  # queued or being staged
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._started = start
        self._closed = False

    def extract_received(self, agreement: Agreement, extract_id: str) -> None:
        with self._lock:
            if self._closed:
                raise InfrastructureError(
                    f"extract {extract_id} not staged: the hub is shutting down",
                    hint=f"it stays received; stage it with `hub extract stage {agreement.id} "
                    f"{extract_id}`",
                )
            if extract_id in self._pending:
                log.info("extract %s is already waiting to be staged", extract_id)
                return
            self._pending.add(extract_id)
            self._queue.put(_Job(agreement, extract_id))
            if self._started:
                self._ensure_worker()

    def resume_waiting(self) -> int:
        """Queue every extract still ``received`` (the hub stopped before staging it, or its
        trigger failed) or left ``processing`` (the hub was killed while staging it: only this
        process stages on the embedded default, and staging again gives the same files) whose
        agreement version is in the contracts; returns how many."""
        from sqlalchemy import select

        from hub.agreements.loader import load_agreements_leniently
        from hub.store import Extract, session_scope

        agreements, _ = load_agreements_leniently(self._settings.contracts_dir)
        with session_scope(self._engine) as session:
            waiting = session.execute(
                select(Extract.id, Extract.agreement_id, Extract.agreement_version)
                .where(Extract.status.in_(("received", "processing")))
                .order_by(Extract.received_at)
            ).all()
        resumed = 0
        for extract_id, agreement_id, version in waiting:
            agreement = agreements.get(agreement_id)
            if agreement is None or agreement.version != version:
                continue
            self.extract_received(agreement, extract_id)
            resumed += 1
        if resumed:
            log.info("%d waiting or interrupted extract(s) queued for staging at start", resumed)
        if len(waiting) > resumed:
            log.warning(
                "%d received extract(s) wait under an agreement version no longer in the "
                "contracts; stage them with `hub extract stage`",
                len(waiting) - resumed,
            )
        return resumed

    def start(self) -> None:
        """Start the worker (when built with ``start=False``)."""
        with self._lock:
            self._started = True
            if self._pending and not self._closed:
                self._ensure_worker()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being staged; False when ``timeout`` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def close(self, *, drain: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if drain and self._pending:
                self._ensure_worker()  # even when built with start=False
            thread = self._thread
        if not drain:
            left = 0
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    left += 1
                    self._done(job.extract_id)
            if left:
                log.warning("%d received extract(s) left unstaged at shutdown", left)
        if thread is not None:
            self._queue.put(None)
            thread.join()
        if self._own_engine:
            self._engine.dispose()

    def _ensure_worker(self) -> None:  # called with the lock held
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="hub-stage", daemon=True)
            self._thread.start()

    def _done(self, extract_id: str) -> None:
        with self._idle:
            self._pending.discard(extract_id)
            self._idle.notify_all()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._stage(job)
            finally:
                self._done(job.extract_id)

    def _stage(self, job: _Job) -> None:
        from hub.pipeline.process import process_extract
        from hub.privacy.keys import open_keyring

        agreement, extract_id = job.agreement, job.extract_id
        try:
            keyring = open_keyring(self._settings)
            process_extract(self._settings, self._engine, keyring, agreement, extract_id)
        except HubError as exc:
            reason = _one_line(exc.message)
        except Exception as exc:  # a fault of the hub: named by type and place only
            reason = f"unexpected {_where(exc)}"
        else:
            return
        status = self._status_after_failure(extract_id)
        log.error(
            "staging extract %s of agreement %s failed (%s): %s",
            extract_id,
            agreement.id,
            status,
            reason,
        )

    def _status_after_failure(self, extract_id: str) -> str:
        """The extract's status after a failed staging; one left ``processing`` (staging
        stopped before it could record why) goes back to ``received``."""
        from hub.store import Extract, session_scope

        try:
            with session_scope(self._engine) as session:
                record = session.get(Extract, extract_id)
                if record is None:
                    return "no such extract"
                if record.status == "processing":
                    record.status = "received"
                    record.updated_at = datetime.now(UTC)
                return f"status {record.status}"
        except Exception as exc:
            return f"status unknown: {_where(exc)}"


# -- Airflow ---------------------------------------------------------------------------------


class _AirflowError(Exception):
    """One failed exchange with Airflow, with a reason fit for a log line."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def _transport_words(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to Airflow's api-server"
    if isinstance(exc, httpx.TimeoutException):
        return "Airflow's api-server did not answer in time"
    return f"{type(exc).__name__} talking to Airflow's api-server"


class AirflowTrigger:
    """Posts an event of the agreement's landing Asset to Airflow 3's REST API.

    Authenticates with a JWT: a configured ``token``, or one fetched from ``POST /auth/token``
    with ``username`` and ``password`` (and fetched again when Airflow says it expired). The
    Asset's id is looked up by its URI once per agreement. Connection errors, timeouts and 5xx
    answers are retried ``attempts`` times in all with exponential backoff; then, or on any other
    refusal, ``extract_received`` raises ``InfrastructureError`` and the extract stays received.
    """

    def __init__(
        self,
        api_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if token is None and not (username and password):
            raise ValueError("AirflowTrigger needs a token, or a user name and a password")
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._username = username
        self._password = password
        self._static_token = token is not None
        self._token = token
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._assets: dict[str, int] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AirflowTrigger:
        if not settings.airflow_api_url:
            raise InfrastructureError(
                "HUB_AIRFLOW_API_URL is not set", hint="set it to Airflow's api-server address"
            )
        password, token = settings.airflow_api_password, settings.airflow_api_token
        return cls(
            settings.airflow_api_url,
            username=settings.airflow_api_username,
            password=password.get_secret_value() if password is not None else None,
            token=token.get_secret_value() if token is not None else None,
            timeout=settings.airflow_api_timeout,
        )

    def extract_received(self, agreement: Agreement, extract_id: str) -> None:
        body = {"extra": {"extract_id": extract_id}}
        try:
            for fresh in (False, True):
                asset_id = self._asset_id(agreement.id, refresh=fresh)
                response = self._send("POST", EVENTS_PATH, json={"asset_id": asset_id, **body})
                if response.status_code == 404 and not fresh:
                    continue  # the Asset was made again under a new id: look it up again
                self._expect(response, 200, 201)
                break
        except _AirflowError as failure:
            raise InfrastructureError(
                f"could not start the pipeline of agreement {agreement.id} in Airflow for "
                f"extract {extract_id}: {failure.reason}",
                hint=(
                    failure.hint or "check HUB_AIRFLOW_API_URL and that Airflow's api-server is up"
                )
                + f"; the extract stays received and sealed: stage it later with "
                f"`hub extract stage {agreement.id} {extract_id}`",
            ) from None
        log.info("Airflow told of extract %s of agreement %s", extract_id, agreement.id)

    def close(self) -> None:
        self._client.close()

    def _asset_id(self, agreement_id: str, *, refresh: bool) -> int:
        uri = landing_uri(agreement_id)
        with self._lock:
            if not refresh and agreement_id in self._assets:
                return self._assets[agreement_id]
        response = self._send("GET", ASSETS_PATH, params={"uri_pattern": uri, "limit": 100})
        self._expect(response, 200)
        found = [a for a in self._json(response).get("assets", []) if a.get("uri") == uri]
        if not found:
            raise _AirflowError(
                f"Airflow has no asset {uri}",
                hint="check that Airflow's dag-processor has parsed the hub's dags/ folder and "
                "that the agreement's DAG has no import error",
            )
        with self._lock:
            self._assets[agreement_id] = int(found[0]["id"])
            return self._assets[agreement_id]

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None:
                response = self._send(
                    "POST",
                    LOGIN_PATH,
                    json={"username": self._username, "password": self._password},
                    authorised=False,
                )
                if response.status_code in (400, 401, 403):
                    raise _AirflowError(
                        "Airflow refused the hub's user name or password",
                        hint="check HUB_AIRFLOW_API_USERNAME and HUB_AIRFLOW_API_PASSWORD",
                    )
                self._expect(response, 200, 201)
                token = self._json(response).get("access_token")
                if not isinstance(token, str) or not token:
                    raise _AirflowError("Airflow's token answer has no access_token")
                self._token = token
            return self._token

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        authorised: bool = True,
    ) -> httpx.Response:
        delay, attempt, renewed = self._backoff, 0, False
        while True:
            attempt += 1
            headers = {"Authorization": f"Bearer {self._bearer()}"} if authorised else {}
            try:
                response = self._client.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                reason = _transport_words(exc)
            else:
                expired = response.status_code == 401 and authorised and not self._static_token
                if expired and not renewed:  # fetch a new token, once
                    with self._lock:
                        self._token = None
                    renewed, attempt = True, attempt - 1
                    continue
                if response.status_code < 500:
                    return response
                reason = f"Airflow answered HTTP {response.status_code}"
            if attempt >= self._attempts:
                raise _AirflowError(f"{reason} ({attempt} attempts)")
            time.sleep(delay)
            delay *= 2

    @staticmethod
    def _expect(response: httpx.Response, *ok: int) -> None:
        status = response.status_code
        if status in ok:
            return
        if status == 401:
            raise _AirflowError(
                "Airflow refused the hub's credentials (HTTP 401)",
                hint="check HUB_AIRFLOW_API_TOKEN, or HUB_AIRFLOW_API_USERNAME and "
                "HUB_AIRFLOW_API_PASSWORD",
            )
        if status == 403:
            raise _AirflowError(
                "Airflow's user for the hub may not create asset events (HTTP 403)",
                hint="give it a role that may (SimpleAuthManager: OP or ADMIN)",
            )
        raise _AirflowError(f"Airflow answered HTTP {status}")

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise _AirflowError("Airflow's answer was not JSON") from None
        if not isinstance(body, dict):
            raise _AirflowError("Airflow's answer was not a JSON object")
        return body


def trigger_for(settings: Settings, engine: Engine | None = None) -> PipelineTrigger:
    """The trigger ``settings.pipeline_trigger`` names; the in-process one stages with
    ``engine`` (the hub's metadata store) or an engine of its own."""
    if settings.pipeline_trigger == "none":
        return NoTrigger()
    if settings.pipeline_trigger == "airflow":
        return AirflowTrigger.from_settings(settings)
    return InProcessTrigger(settings, engine)
