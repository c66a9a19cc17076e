"""A hub killed in the middle of an upload: the real server (``hub serve`` in its own process) is
sent SIGKILL while a body is streaming in. Nothing counts as received, no plain text is left on
disk, the encrypted leftover is swept when the hub starts again, and the partner's retry is
stored exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.ingestion.credentials import issue_credential
from hub.pipeline.landing import partials_dir
from hub.pipeline.reading import read_batches
from hub.privacy.keys import init_keyring
from hub.settings import Settings
from hub.store import Extract, make_engine, session_scope, upgrade
from tests.conftest import make_settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"
CANARY = b"Fixturewright"  # a surname in every row
START_TIMEOUT = 30.0


def _body(rows: int) -> bytes:
    header, first, *_ = FIXTURE.read_bytes().split(b"\n")
    return header + b"\n" + (first + b"\n") * rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def hub_server(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``hub serve`` in a child process with ``settings`` passed through the environment."""
    port = _free_port()
    env = {
        **os.environ,
        "HUB_ENV": settings.env,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_KEY_DIR": str(settings.key_dir),
        "HUB_MASTER_KEY_FILE": str(settings.master_key_file),
        "HUB_CONTRACTS_DIR": str(settings.contracts_dir),
        "HUB_PIPELINE_TRIGGER": "none",
    }
    command = [sys.executable, "-c", "from hub.cli.app import main; main()", "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the hub server did not start")
            time.sleep(0.1)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=START_TIMEOUT)


def _extracts(settings: Settings) -> int:
    engine = make_engine(settings.metadata_url)
    try:
        with session_scope(engine) as session:
            return int(session.scalar(select(func.count()).select_from(Extract)) or 0)
    finally:
        engine.dispose()


def _files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.data_dir.rglob("*") if p.is_file())


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_server_killed_mid_upload_leaves_nothing_accepted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    keyring = init_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [agreement])
    _, token = issue_credential(engine, "merseyvale-police", "Niche RMS")
    engine.dispose()
    body = _body(60_000)  # about 10 MB
    landing = settings.zone("landing")
    spool = partials_dir(settings)  # where uploads are sealed until they are put into the zone

    with hub_server(settings) as (process, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                b"POST /api/v1/agreements/police-sv/extracts HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body[: len(body) // 2]
            )
            deadline = time.monotonic() + START_TIMEOUT
            while not any(p.stat().st_size > (2 << 20) for p in spool.rglob(".*.partial")):
                assert time.monotonic() < deadline, "the upload never reached the disk"
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=START_TIMEOUT)

    # nothing counts as received, and what is on disk is ciphertext only
    assert _extracts(settings) == 0
    assert not [p for p in landing.rglob("*.sealed") if not p.name.startswith(".")]
    (leftover,) = spool.rglob(".*.partial")
    for path in _files(settings):
        assert CANARY not in path.read_bytes(), f"plain text on disk: {path}"

    # the hub starts again: a leftover still fresh is kept (it could be another worker's upload
    # in progress); once stale it is swept
    with hub_server(settings):
        assert leftover.exists()
    an_hour_ago = time.time() - 3601
    os.utime(leftover, (an_hour_ago, an_hour_ago))
    with hub_server(settings) as (_, base_url):
        assert not leftover.exists()
        # the partner's nightly job retries: stored exactly once
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
        url = f"{base_url}/api/v1/agreements/police-sv/extracts"
        first = httpx.post(url, content=body, headers=headers, timeout=60)
        again = httpx.post(url, content=body, headers=headers, timeout=60)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["extract_id"] == again.json()["extract_id"]
    assert _extracts(settings) == 1
    (landed,) = (p for p in landing.rglob("*.sealed") if not p.name.startswith("."))
    assert not list(spool.rglob(".*.partial"))
    assert sum(b.num_rows for b in read_batches(landed, keyring, agreement)) == 60_000
