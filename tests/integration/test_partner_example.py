"""The partner client of ``docs/partners.md`` (``docs/examples/upload_extract.py``) run against a
live hub over real HTTP, so the page cannot drift from what the API does: an upload and its
receipt, the same receipt for the same file, status and report, the command line, a retry after a
503, giving up when nothing answers, and no retry of a refusal."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.web.app import create_app
from tests.api_hub import ApiHub, make_api_hub
from tests.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "upload_extract.py"
SMALL_CSV = ROOT / "tests" / "fixtures" / "extracts" / "police-sv-small.csv"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("upload_extract", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _example()


class Flaky:
    """The hub behind something that answers the first ``failures`` uploads with a 503 problem
    (as the hub does when its database is down), counting every upload it sees."""

    def __init__(self, app: ASGIApp, failures: int) -> None:
        self.app = app
        self.failures = failures
        self.posts = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.posts += 1
        if self.posts > self.failures:
            await self.app(scope, receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        body = json.dumps(
            {
                "type": "https://svdhub.example/problems/infrastructure_error",
                "title": "The hub is not available",
                "status": 503,
                "detail": "the hub cannot take this request now; nothing was stored",
                "code": "infrastructure_error",
            }
        ).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"retry-after", b"0")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    api_hub = make_api_hub(tmp_path)
    yield api_hub
    api_hub.engine.dispose()


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    path = tmp_path / "extract.csv"
    path.write_bytes(SMALL_CSV.read_bytes())
    return path


def test_the_example_uploads_and_follows_an_extract(hub: ApiHub, extract: Path) -> None:
    with live_server(create_app(hub.settings)) as api:
        receipt = example.upload_extract(api, hub.police, "police-sv", extract)
        assert receipt["status"] == "received"
        assert receipt["rows_estimate"] == 3
        assert receipt["sha256"] == hashlib.sha256(extract.read_bytes()).hexdigest()
        assert example.upload_extract(api, hub.police, "police-sv", extract) == receipt
        status = example.extract_status(api, hub.police, receipt["extract_id"])
        assert status["status"] == "received"
        report = example.extract_status(api, hub.police, receipt["extract_id"], report=True)
        assert report["report"] is None  # the pipeline has not checked it yet
        with pytest.raises(example.RefusedError) as refused:
            example.extract_status(api, hub.hospitals, receipt["extract_id"])
        assert refused.value.status == 404
    assert hub.extracts() == 1


def test_the_example_command_line(
    hub: ApiHub, extract: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(example.TOKEN_ENV, hub.police)
    with live_server(create_app(hub.settings)) as api:
        assert example.main([str(extract), "--hub", api, "--agreement", "police-sv"]) == 0
        receipt = json.loads(capsys.readouterr().out)
        assert receipt["agreement_id"] == "police-sv"
        assert example.main([str(extract), "--hub", api, "--agreement", "ed-assaults"]) == 1
        problem = json.loads(capsys.readouterr().err)
        assert (problem["status"], problem["code"]) == (403, "not_your_agreement")
    monkeypatch.delenv(example.TOKEN_ENV)
    assert example.main([str(extract), "--hub", api, "--agreement", "police-sv"]) == 2


def test_the_example_retries_a_503_and_is_stored_once(hub: ApiHub, extract: Path) -> None:
    flaky = Flaky(create_app(hub.settings), failures=2)
    with live_server(flaky) as api:  # type: ignore[arg-type]
        receipt = example.upload_extract(api, hub.police, "police-sv", extract, backoff=0.01)
    assert receipt["status"] == "received"
    assert flaky.posts == 3
    assert hub.extracts() == 1


def test_the_example_gives_up_when_nothing_answers(extract: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        port = unused.getsockname()[1]
        with pytest.raises(example.UploadFailedError, match="3 attempt"):
            example.upload_extract(
                f"http://127.0.0.1:{port}",
                "svdhub_pk_x",
                "police-sv",
                extract,
                attempts=3,
                backoff=0.01,
            )


def test_a_refusal_is_not_retried_even_while_the_file_is_still_being_sent(
    hub: ApiHub, tmp_path: Path
) -> None:
    # larger than the loopback socket buffers: the hub answers 401 before the body is sent
    header, rows = SMALL_CSV.read_bytes().split(b"\n", 1)
    big = tmp_path / "big.csv"
    with big.open("wb") as out:
        out.write(header + b"\n")
        for _ in range((32 << 20) // len(rows)):
            out.write(rows)
    counting = Flaky(create_app(hub.settings), failures=0)
    bad_token = "svdhub_pk_0123456789abcdef_nope"
    with live_server(counting) as api, pytest.raises(example.RefusedError) as refused:  # type: ignore[arg-type]
        example.upload_extract(api, bad_token, "police-sv", big)
    assert refused.value.status == 401
    assert refused.value.problem["code"] == "unauthorised"
    assert counting.posts == 1
    hub.assert_nothing_stored()
