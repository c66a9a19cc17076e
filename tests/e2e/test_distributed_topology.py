"""The production topology without Docker: PostgreSQL (hub and Airflow metadata, separate
databases), Redis as the Celery broker, Airflow's api-server, scheduler and dag-processor and
two Celery workers as processes, the hub API, and every zone on S3-compatible object storage
(moto's server, in its own process). Each worker has a data directory of its own, as on a machine
of its own: what they share is PostgreSQL, Redis, the buckets and the keyring. Extracts uploaded
through the hub API are sealed into the landing bucket and become landing Asset events; the
agreements' DAGs stage them on the workers, the one-picture DAG links and publishes; the test
waits for a release of every extract, checks it, and shows from the task instances that both
workers ran tasks.

Needs HUB_TEST_DATABASE_URL and HUB_TEST_REDIS_URL (``.ci/run`` sets both); skipped without them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from hub.agreements import load_agreements
from hub.agreements.development import approve_for_development
from hub.ingestion.credentials import issue_credential
from hub.pipeline.airflow_env import airflow_environment
from hub.privacy.keys import init_keyring
from hub.publication.release import load_release
from hub.settings import ZONES, Settings
from hub.storage import zone_store
from hub.store import Release, ReleaseInput, make_engine, session_scope, upgrade
from hub.synth import generate_partnership
from hub.web.app import create_app
from tests.conftest import make_settings
from tests.live_server import live_server
from tests.s3_server import ACCESS_KEY, SECRET_KEY, drop_buckets, make_buckets

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (PG_URL and REDIS_URL), reason="needs HUB_TEST_DATABASE_URL and HUB_TEST_REDIS_URL"
    ),
]

ROWS = 2_000
USER = "hub"
START_TIMEOUT = 150.0
RELEASE_TIMEOUT = 420.0
QUIET_TIMEOUT = 180.0
WORKERS = ("w1", "w2")
HOSTNAME_MODULE = '''
import os
import socket


def get() -> str:
    """The task instance's hostname: the worker's name, then the machine's."""
    return f"{os.environ.get('HUB_E2E_WORKER', 'airflow')}.{socket.gethostname()}"
'''


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-size:] if path.exists() else ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a component and every process it started (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                process.wait()
                return
            time.sleep(0.2)
    process.wait()


@dataclass
class Topology:
    settings: Settings
    worker_dirs: list[Path]
    airflow_db: str
    api_url: str
    hub_url: str
    tokens: dict[str, str]
    files: dict[str, Path]
    logs: Path


def _database(admin_url: str, name: str, *, drop: bool = False) -> str:
    """Create (or drop) database ``name`` on the test server; its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if drop:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _redis_db(url: str) -> str:
    """A Redis database of its own for the broker (the URL's database number plus 7)."""
    parsed = urlsplit(url)
    number = (int(parsed.path.strip("/") or 0) + 7) % 16
    return urlunsplit((parsed.scheme, parsed.netloc, f"/{number}", "", ""))


def _flush(redis_url: str) -> None:
    from celery import Celery

    Celery(broker=redis_url).connection_for_write().default_channel.client.flushdb()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[Topology]:
    assert PG_URL and REDIS_URL
    base = tmp_path_factory.mktemp("topology")
    suffix = uuid.uuid4().hex[:8]
    buckets = [f"e2e{suffix}-{zone}" for zone in ZONES]
    make_buckets(s3_endpoint, buckets)
    hub_db = _database(PG_URL, f"hub_e2e_{suffix}")
    airflow_db = _database(PG_URL, f"airflow_e2e_{suffix}")
    broker = _redis_db(REDIS_URL)
    _flush(broker)
    processes: list[subprocess.Popen[bytes]] = []
    logs = base / "logs"
    logs.mkdir()
    try:
        settings = make_settings(
            base,
            database_url=hub_db,
            storage="s3",
            s3_endpoint_url=s3_endpoint,
            s3_bucket_prefix=f"e2e{suffix}",
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,
        )
        settings.ensure_dirs()
        engine = make_engine(settings.metadata_url)
        upgrade(engine)
        init_keyring(settings)
        agreements = load_agreements(settings.contracts_dir)
        summary = generate_partnership(base / "partners", rows=ROWS)
        settings.reference_dir.mkdir(parents=True, exist_ok=True)
        reference = base / "partners" / "reference" / "postcode_lsoa.csv"
        (settings.reference_dir / "postcode_lsoa.csv").write_bytes(reference.read_bytes())
        approve_for_development(settings, engine, agreements.values())
        tokens = {
            a.id: issue_credential(engine, a.provider, f"e2e {a.id}")[1]
            for a in agreements.values()
        }
        engine.dispose()

        home = settings.airflow_dir.resolve()
        home.mkdir(parents=True, mode=0o700)
        password = secrets.token_urlsafe(18)
        (home / "passwords.json").write_text(json.dumps({USER: password}), encoding="utf-8")
        shim = base / "shim"
        shim.mkdir()
        (shim / "e2e_hostname.py").write_text(HOSTNAME_MODULE, encoding="utf-8")
        api_port, health_port = _free_port(), _free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        airflow_conn = make_url(airflow_db).render_as_string(hide_password=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
        env.update(airflow_environment(settings))
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
                "AIRFLOW__CORE__FERNET_KEY": _fernet(),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "e2e_hostname.get",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_conn,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_conn,
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_conn}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                "AIRFLOW__API__PORT": str(api_port),
                "AIRFLOW__API__BASE_URL": api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(64),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:op",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(health_port),
                "HUB_DATABASE_URL": hub_db,
                "HUB_AIRFLOW_HOME": str(home),
                "HUB_PIPELINE_TRIGGER": "none",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")])),
            }
        )
        airflow = [sys.executable, "-m", "airflow"]
        migrate = subprocess.run(
            [*airflow, "db", "migrate"], env=env, cwd=base, capture_output=True, timeout=180,
            check=False,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr.decode()[-3000:]

        def start(name: str, *args: str, **extra: str) -> None:
            with (logs / f"{name}.log").open("ab") as out:
                processes.append(
                    subprocess.Popen(
                        [*airflow, *args],
                        env={**env, **extra},
                        cwd=base,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

        start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port))
        start("scheduler", "scheduler")
        start("dag-processor", "dag-processor")
        worker_dirs = []
        for worker in WORKERS:
            # the worker's own disk: scratch, the reference lookups and, outside production,
            # the development leads' public keys (production registers leads in keys/public)
            data = base / f"{worker}-data"
            (data / "reference").mkdir(parents=True)
            (data / "reference" / "postcode_lsoa.csv").write_bytes(reference.read_bytes())
            shutil.copytree(settings.dev_signer_dir, data / settings.dev_signer_dir.name)
            worker_dirs.append(data)
            start(
                worker, "celery", "worker", "--celery-hostname", f"{worker}@%h",
                "--concurrency", "2", HUB_E2E_WORKER=worker, HUB_DATA_DIR=str(data),
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
            )  # fmt: skip
        _wait_until_ready(api_url, password, broker, len(agreements) + 2, processes, logs)

        hub_settings = settings.model_copy(
            update={
                "pipeline_trigger": "airflow",
                "airflow_api_url": api_url,
                "airflow_api_username": USER,
                "airflow_api_password": SecretStr(password),
            }
        )
        with live_server(create_app(hub_settings)) as hub_url:
            yield Topology(
                settings,
                worker_dirs,
                airflow_conn,
                api_url,
                hub_url,
                tokens,
                dict(summary.files),
                logs,
            )
    finally:
        for process in reversed(processes):
            _stop(process)
        _flush(broker)
        for name in (make_url(hub_db).database, make_url(airflow_db).database):
            _database(PG_URL, str(name), drop=True)
        drop_buckets(s3_endpoint, buckets)


def _fernet() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _wait_until_ready(
    api_url: str,
    password: str,
    broker: str,
    dags: int,
    processes: list[subprocess.Popen[bytes]],
    logs: Path,
) -> None:
    """The api-server healthy, both workers answering and every DAG parsed, with no import
    error; a component that exits meanwhile fails the test with its log."""
    from celery import Celery

    deadline = time.monotonic() + START_TIMEOUT
    token = ""
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a component exited while starting:\n{_logs(logs)}")
        try:
            if not token:
                health = httpx.get(f"{api_url}/api/v2/monitor/health", timeout=3)
                if health.status_code != 200:
                    raise httpx.TransportError("not healthy yet")
                answer = httpx.post(
                    f"{api_url}/auth/token", json={"username": USER, "password": password},
                    timeout=5,
                )  # fmt: skip
                token = str(answer.json()["access_token"])
            headers = {"Authorization": f"Bearer {token}"}
            listed = httpx.get(f"{api_url}/api/v2/dags", headers=headers, timeout=5).json()
            errors = httpx.get(f"{api_url}/api/v2/importErrors", headers=headers, timeout=5)
            assert not errors.json().get("import_errors"), errors.text
            pongs = Celery(broker=broker).control.ping(timeout=2)
            if listed.get("total_entries", 0) >= dags and len(pongs) >= len(WORKERS):
                return
        except (httpx.TransportError, KeyError, ValueError):
            pass
        time.sleep(1)
    pytest.fail(f"the topology did not come up in {START_TIMEOUT} s:\n{_logs(logs)}")


def _wait_until_no_task_runs(airflow: Engine, logs: Path) -> None:
    deadline = time.monotonic() + QUIET_TIMEOUT
    while True:
        with airflow.connect() as connection:
            busy = connection.execute(
                text(
                    "SELECT count(*) FROM task_instance WHERE state IN "
                    "('scheduled', 'queued', 'running', 'restarting', 'up_for_retry')"
                )
            ).scalar_one()
        if not busy:
            return
        assert time.monotonic() < deadline, f"{busy} task(s) still running:\n{_logs(logs)}"
        time.sleep(2)


def _logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{_tail(p, 1500)}" for p in sorted(folder.glob("*.log")))


def test_uploads_are_staged_on_both_workers_and_published(topology: Topology) -> None:
    extracts = {}
    for agreement_id, token in sorted(topology.tokens.items()):
        path = topology.files[agreement_id]
        media = "application/vnd.apache.parquet" if path.suffix == ".parquet" else "text/csv"
        response = httpx.post(
            f"{topology.hub_url}/api/v1/agreements/{agreement_id}/extracts",
            content=path.read_bytes(),
            params={"filename": path.name},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": media,
            },
            timeout=60,
        )
        assert response.status_code == 201, response.text
        extracts[agreement_id] = response.json()["extract_id"]

    engine = make_engine(topology.settings.metadata_url)
    deadline = time.monotonic() + RELEASE_TIMEOUT
    release = None
    while release is None and time.monotonic() < deadline:
        with session_scope(engine) as session:
            for row in session.scalars(select(Release)).all():
                inputs = set(
                    session.scalars(
                        select(ReleaseInput.extract_id).where(ReleaseInput.release_id == row.id)
                    ).all()
                )
                if inputs >= set(extracts.values()):
                    release = row
        time.sleep(2)
    assert release is not None, f"no release of every extract:\n{_logs(topology.logs)}"
    manifest = load_release(topology.settings, release.id).manifest
    assert {i["extract_id"] for i in manifest["inputs"]} == set(extracts.values())
    assert release.events == sum(i["rows"] for i in manifest["inputs"])
    engine.dispose()

    # the zones are the buckets: the hub API's and the workers' disks hold none of them, and
    # once no task is left running (a scheduled run may still be staging an extract again),
    # nothing is left in their work folders either
    published = zone_store(topology.settings, "published").list(release.id)
    assert f"{release.id}/event.parquet" in published
    assert f"{release.id}/manifest.json" in published
    landed = zone_store(topology.settings, "landing").list()
    assert len(landed) == len(extracts) and all(n.endswith(".sealed") for n in landed)
    airflow = create_engine(topology.airflow_db)
    _wait_until_no_task_runs(airflow, topology.logs)
    for folder in [topology.settings.data_dir, *topology.worker_dirs]:
        assert not any((folder / zone).exists() for zone in ZONES), folder
        assert [p for p in (folder / "work").rglob("*") if p.is_file()] == [], folder

    with airflow.connect() as connection:
        hosts = connection.execute(
            text(
                "SELECT hostname, count(*) FROM task_instance WHERE state = 'success' "
                "GROUP BY hostname"
            )
        ).all()
    airflow.dispose()
    workers = {str(host).split(".", 1)[0] for host, _ in hosts}
    assert workers == set(WORKERS), hosts
