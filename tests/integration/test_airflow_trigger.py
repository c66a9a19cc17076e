"""The Airflow pipeline trigger (HUB_PIPELINE_TRIGGER=airflow) against a real Airflow 3
api-server: an accepted extract becomes an event of its agreement's landing Asset, carrying the
extract id, and the agreement's DAG has it queued; refusals and an Airflow that is down are
InfrastructureErrors with one clear line.

The module starts ``airflow api-server`` once, in a subprocess of its own process group, on a
free loopback port: a temporary AIRFLOW_HOME with a SQLite database (``airflow db migrate``), the
hub's dags/ folder serialized into it (``airflow dags reserialize``, which makes the Assets) and
SimpleAuthManager with one OP user whose password the test sets. About 20 s; the process group is
killed afterwards and everything lives under pytest's tmp_path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from hub.agreements import Agreement, get_agreement, load_agreements
from hub.errors import InfrastructureError
from hub.pipeline.airflow_env import airflow_environment
from hub.pipeline.dags import agreement_dag_id
from hub.pipeline.trigger import AirflowTrigger, landing_uri, trigger_for
from tests.conftest import CONTRACTS, ROOT, make_settings

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("airflow") is None, reason="needs Airflow"),
]

USER = "hub"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
START_TIMEOUT = 90.0
STEP_TIMEOUT = 120.0


@dataclass(frozen=True)
class AirflowServer:
    url: str
    password: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-size:] if path.exists() else ""


def _airflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the api-server and every process it started (its own process group)."""
    group = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(group, 0)  # anything of the group still alive?
            except ProcessLookupError:
                process.wait()
                return
            time.sleep(0.1)
    process.wait()


@pytest.fixture(scope="module")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    base = tmp_path_factory.mktemp("airflow-api")
    settings = make_settings(base)
    home = settings.airflow_dir.resolve()
    home.mkdir(parents=True, mode=0o700)
    password = secrets.token_urlsafe(18)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: password}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    env.update(airflow_environment(settings))
    env.update(
        {
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:op",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        }
    )
    log = base / "airflow.log"
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        with log.open("ab") as out:
            done = subprocess.run(
                _airflow(*step), env=env, cwd=base, stdout=out, stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"airflow {' '.join(step)} failed:\n{_tail(log)}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = _airflow("api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, cwd=base, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"airflow api-server exited while starting:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"airflow api-server did not start in {START_TIMEOUT} s:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        yield AirflowServer(url, password, log)
    finally:
        _stop(process)


class AirflowApi:
    """The REST API as an operator would read it, to check what the trigger did."""

    def __init__(self, server: AirflowServer) -> None:
        token = httpx.post(
            f"{server.url}/auth/token",
            json={"username": USER, "password": server.password},
            timeout=10,
        )
        assert token.status_code == 201, token.text
        self.token = str(token.json()["access_token"])
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def get(self, path: str, **params: object) -> dict[str, object]:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    def asset_id(self, agreement_id: str) -> int:
        uri = landing_uri(agreement_id)
        assets = self.get("/api/v2/assets", uri_pattern=uri)["assets"]
        assert isinstance(assets, list)
        (asset,) = [a for a in assets if a["uri"] == uri]
        return int(asset["id"])

    def events_for(self, extract_id: str) -> list[dict[str, object]]:
        events = self.get("/api/v2/assets/events", limit=100)["asset_events"]
        assert isinstance(events, list)
        return [e for e in events if e["extra"].get("extract_id") == extract_id]


@pytest.fixture(scope="module")
def api(airflow_api: AirflowServer) -> Iterator[AirflowApi]:
    reader = AirflowApi(airflow_api)
    yield reader
    reader.client.close()


def _agreement(agreement_id: str) -> Agreement:
    return get_agreement(CONTRACTS, agreement_id)


def _extract_id() -> str:
    return f"ext-{secrets.token_hex(12)}"


def test_an_accepted_extract_becomes_an_event_of_its_agreements_landing_asset(
    airflow_api: AirflowServer, api: AirflowApi, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        pipeline_trigger="airflow",
        airflow_api_url=airflow_api.url,
        airflow_api_username=USER,
        airflow_api_password=airflow_api.password,
    )
    trigger = trigger_for(settings)
    assert isinstance(trigger, AirflowTrigger)
    police, ed = _extract_id(), _extract_id()
    try:
        trigger.extract_received(_agreement("police-sv"), police)
        trigger.extract_received(_agreement("ed-assaults"), ed)
    finally:
        trigger.close()

    (event,) = api.events_for(police)
    assert event["asset_id"] == api.asset_id("police-sv")
    assert event["uri"] == "hub://landing/police-sv"
    assert event["name"] == "landing.police-sv"
    (other,) = api.events_for(ed)
    assert other["asset_id"] == api.asset_id("ed-assaults")

    # the agreement's DAG, scheduled on that Asset, has the event queued for its next run
    dag_id = agreement_dag_id("police-sv")
    queued = api.get(f"/api/v2/dags/{dag_id}/assets/queuedEvents")["queued_events"]
    assert isinstance(queued, list)
    assert {q["asset_id"] for q in queued} == {api.asset_id("police-sv")}


def test_a_configured_token_is_used_as_it_is(airflow_api: AirflowServer, api: AirflowApi) -> None:
    extract_id = _extract_id()
    trigger = AirflowTrigger(airflow_api.url, token=api.token)
    try:
        trigger.extract_received(_agreement("youth-justice"), extract_id)
    finally:
        trigger.close()
    (event,) = api.events_for(extract_id)
    assert event["asset_id"] == api.asset_id("youth-justice")


def test_a_wrong_password_is_a_clear_infrastructure_error(airflow_api: AirflowServer) -> None:
    trigger = AirflowTrigger(airflow_api.url, username=USER, password="not-the-password")
    with pytest.raises(InfrastructureError) as caught:
        trigger.extract_received(_agreement("police-sv"), _extract_id())
    trigger.close()
    assert "Airflow refused the hub's user name or password" in caught.value.message
    assert "not-the-password" not in f"{caught.value.message} {caught.value.hint}"


def test_an_agreement_airflow_does_not_know_is_named(
    airflow_api: AirflowServer, api: AirflowApi
) -> None:
    unknown = _agreement("police-sv").model_copy(update={"id": "police-sv-pilot"})
    trigger = AirflowTrigger(airflow_api.url, token=api.token)
    with pytest.raises(InfrastructureError) as caught:
        trigger.extract_received(unknown, _extract_id())
    trigger.close()
    assert "Airflow has no asset hub://landing/police-sv-pilot" in caught.value.message


def test_an_airflow_that_is_down_is_an_infrastructure_error() -> None:
    port = _free_port()  # nothing listens there
    trigger = AirflowTrigger(
        f"http://127.0.0.1:{port}", username=USER, password="pw", attempts=3, backoff=0.05
    )
    extract_id = _extract_id()
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as caught:
        trigger.extract_received(_agreement("police-sv"), extract_id)
    trigger.close()
    assert time.monotonic() - started < 10
    error = caught.value
    assert error.message == (
        f"could not start the pipeline of agreement police-sv in Airflow for extract "
        f"{extract_id}: cannot connect to Airflow's api-server (3 attempts)"
    )
    assert "HUB_AIRFLOW_API_URL" in (error.hint or "")
    assert f"hub extract stage police-sv {extract_id}" in (error.hint or "")


def test_the_trigger_and_the_dags_name_the_same_landing_asset(airflow_home: Path) -> None:
    from hub.pipeline.dags import landing_asset

    for agreement_id in load_agreements(CONTRACTS):
        assert landing_asset(agreement_id).uri == landing_uri(agreement_id)


def test_the_compose_hub_api_signs_in_as_an_airflow_user_that_may_post_events(
    tmp_path: Path,
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    hub_env = {k: str(v) for k, v in services["hub-api"]["environment"].items()}
    assert hub_env["HUB_PIPELINE_TRIGGER"] == "airflow"
    assert hub_env["HUB_AIRFLOW_API_URL"] == "http://airflow-apiserver:8080"
    users = dict(
        u.split(":")[:2]
        for u in services["airflow-apiserver"]["environment"][
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
        ].split(",")
    )
    assert users[hub_env["HUB_AIRFLOW_API_USERNAME"]].upper() in {"OP", "ADMIN"}
    # the api-server is given the same password variable the hub signs in with
    password = hub_env["HUB_AIRFLOW_API_PASSWORD"]
    assert password == services["airflow-apiserver"]["environment"]["AIRFLOW_HUB_PASSWORD"]
    settings = make_settings(
        tmp_path,
        **{
            name.removeprefix("HUB_").lower(): value
            for name, value in hub_env.items()
            if name.startswith(("HUB_PIPELINE", "HUB_AIRFLOW_API"))
        },
    )
    trigger = trigger_for(settings)
    assert isinstance(trigger, AirflowTrigger)
    trigger.close()
