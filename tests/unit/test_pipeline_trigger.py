"""The pipeline trigger's settings, and the Airflow trigger's behaviour towards an Airflow that
answers badly (HTTP answers scripted with httpx.MockTransport: retries with backoff on 5xx, a
token fetched again when it expires, a clear error on a refusal). The same trigger against a
real Airflow api-server is tests/integration/test_airflow_trigger.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from hub.agreements import Agreement, get_agreement
from hub.errors import InfrastructureError
from hub.pipeline.trigger import AirflowTrigger, InProcessTrigger, NoTrigger, trigger_for
from tests.conftest import CONTRACTS, make_settings

PASSWORD = "pw-never-shown"
URI = "hub://landing/police-sv"
EXTRACT = "ext-0123456789abcdef01234567"


@pytest.fixture(scope="module")
def police() -> Agreement:
    return get_agreement(CONTRACTS, "police-sv")


Handler = Callable[[httpx.Request], httpx.Response]


class FakeAirflow:
    """Airflow's three endpoints the trigger uses, with scripted failures."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.events: list[dict[str, object]] = []
        self.token = "jwt-1"
        self.failures: list[int] = []  # statuses to answer the next event posts with
        self.expire_once = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/auth/token":
            body = json.loads(request.content)
            if body != {"username": "hub", "password": PASSWORD}:
                return httpx.Response(401, json={"detail": "Invalid credentials"})
            return httpx.Response(201, json={"access_token": self.token})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"detail": "Invalid token"})
        if request.url.path == "/api/v2/assets":
            pattern = request.url.params["uri_pattern"]  # Airflow: a substring match
            known = [
                {"id": 7, "uri": f"{URI}-pilot", "name": "landing.police-sv-pilot"},
                {"id": 3, "uri": URI, "name": "landing.police-sv"},
            ]
            assets = [a for a in known if pattern in str(a["uri"])]
            return httpx.Response(200, json={"assets": assets, "total_entries": len(assets)})
        if request.url.path == "/api/v2/assets/events":
            if self.failures:
                return httpx.Response(self.failures.pop(0), json={"detail": "down"})
            if self.expire_once:
                self.expire_once, self.token = False, "jwt-2"
                return httpx.Response(401, json={"detail": "Token expired"})
            self.events.append(json.loads(request.content))
            return httpx.Response(200, json={"id": len(self.events)})
        return httpx.Response(404)


def _trigger(airflow: Handler, **options: object) -> AirflowTrigger:
    values: dict[str, object] = {"username": "hub", "password": PASSWORD, "backoff": 0.001}
    values.update(options)
    return AirflowTrigger(
        "http://airflow.test:8080/",
        transport=httpx.MockTransport(airflow),
        **values,  # type: ignore[arg-type]
    )


def test_an_event_names_the_landing_asset_and_the_extract(police: Agreement) -> None:
    airflow = FakeAirflow()
    trigger = _trigger(airflow)
    trigger.extract_received(police, EXTRACT)
    trigger.extract_received(police, "ext-another")
    trigger.close()
    assert airflow.events == [
        {"asset_id": 3, "extra": {"extract_id": EXTRACT}},
        {"asset_id": 3, "extra": {"extract_id": "ext-another"}},
    ]
    # one token, one look-up of the asset (cached), one post per extract
    assert airflow.calls == [
        "POST /auth/token",
        "GET /api/v2/assets",
        "POST /api/v2/assets/events",
        "POST /api/v2/assets/events",
    ]


def test_server_errors_are_retried_with_backoff(police: Agreement) -> None:
    airflow = FakeAirflow()
    airflow.failures = [503, 502]
    _trigger(airflow, attempts=3).extract_received(police, EXTRACT)
    assert len(airflow.events) == 1
    assert airflow.calls.count("POST /api/v2/assets/events") == 3


def test_an_expired_token_is_fetched_again(police: Agreement) -> None:
    airflow = FakeAirflow()
    airflow.expire_once = True
    _trigger(airflow).extract_received(police, EXTRACT)
    assert airflow.calls.count("POST /auth/token") == 2
    assert len(airflow.events) == 1


def _refusal(trigger: AirflowTrigger, police: Agreement) -> InfrastructureError:
    with pytest.raises(InfrastructureError) as caught:
        trigger.extract_received(police, EXTRACT)
    error = caught.value
    text = f"{error.message} {error.hint}"
    assert "\n" not in text
    assert PASSWORD not in text
    assert "police-sv" in error.message and EXTRACT in error.message
    assert f"hub extract stage police-sv {EXTRACT}" in (error.hint or "")
    return error


def test_giving_up_after_the_last_attempt_is_an_infrastructure_error(police: Agreement) -> None:
    airflow = FakeAirflow()
    airflow.failures = [500, 500, 500]
    error = _refusal(_trigger(airflow, attempts=3), police)
    assert "HTTP 500 (3 attempts)" in error.message
    assert airflow.events == []


def test_a_wrong_password_is_not_retried(police: Agreement) -> None:
    airflow = FakeAirflow()
    error = _refusal(_trigger(airflow, password="wrong"), police)
    assert "refused the hub's user name or password" in error.message
    assert "HUB_AIRFLOW_API_PASSWORD" in (error.hint or "")
    assert airflow.calls == ["POST /auth/token"]


def test_a_refused_static_token_is_an_error(police: Agreement) -> None:
    airflow = FakeAirflow()
    error = _refusal(_trigger(airflow, username=None, password=None, token="stale"), police)
    assert "HTTP 401" in error.message and "HUB_AIRFLOW_API_TOKEN" in (error.hint or "")


def test_an_agreement_without_an_asset_in_airflow_is_named(police: Agreement) -> None:
    airflow = FakeAirflow()
    other = police.model_copy(update={"id": "police-sv-old"})
    with pytest.raises(InfrastructureError) as caught:
        _trigger(airflow).extract_received(other, EXTRACT)
    assert "has no asset hub://landing/police-sv-old" in caught.value.message


# -- settings ----------------------------------------------------------------------------------


def test_airflow_without_an_address_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs HUB_AIRFLOW_API_URL"):
        make_settings(tmp_path, pipeline_trigger="airflow")
    with pytest.raises(ValidationError, match="needs HUB_AIRFLOW_API_USERNAME"):
        make_settings(tmp_path, pipeline_trigger="airflow", airflow_api_url="http://af:8080")
    with pytest.raises(ValidationError, match="not both"):
        make_settings(
            tmp_path,
            pipeline_trigger="airflow",
            airflow_api_url="http://af:8080",
            airflow_api_token="t",
            airflow_api_username="hub",
            airflow_api_password="p",
        )


def test_the_setting_chooses_the_trigger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(trigger_for(make_settings(tmp_path)), NoTrigger)
    inprocess = trigger_for(make_settings(tmp_path, pipeline_trigger="inprocess"))
    assert isinstance(inprocess, InProcessTrigger)
    inprocess.close()
    monkeypatch.setenv("HUB_PIPELINE_TRIGGER", "airflow")
    monkeypatch.setenv("HUB_AIRFLOW_API_URL", "http://airflow-apiserver:8080")
    monkeypatch.setenv("HUB_AIRFLOW_API_USERNAME", "hub")
    monkeypatch.setenv("HUB_AIRFLOW_API_PASSWORD", PASSWORD)
    from hub.settings import Settings

    settings = Settings(env="test", data_dir=tmp_path / "var")
    assert PASSWORD not in repr(settings)
    airflow = trigger_for(settings)
    assert isinstance(airflow, AirflowTrigger)
    airflow.close()
