"""The production topology (docker-compose.yml, Dockerfile, deploy/) checked offline.

No Docker engine is needed: the compose file is validated against the Compose specification
JSON Schema vendored inside check-jsonschema, and the rest are static checks of the rules the
deployment promises (pinned images, guarded secrets, health checks, documented variables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

# Services that run once and exit; every other service runs for good.
ONE_SHOT = {"init", "minio-init"}
AIRFLOW_COMPONENTS = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}

# Names of variables whose values are credentials.
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|SECRET_KEY|MASTER_KEY|FERNET_KEY|ACCESS_KEY_ID|TOKEN|ROOT_USER"
    r"|REDISCLI_AUTH)$"
)
# A value that is exactly one guarded reference: ${NAME:?message}.
GUARD = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")
# user:password@ inside a URL.
URL_PASSWORD = re.compile(r"://[^:/@\s]*:(?P<password>[^@\s]*)@")
# References to variables of the env file; `$$` is Compose's escape for a literal `$`.
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
PINNED_TAG = re.compile(r"\d+\.\d+|RELEASE\.\d{4}-\d{2}-\d{2}")


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def strings(node: Any) -> Iterator[str]:
    """Every string value (and mapping key) in a loaded YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition, from either the list or the mapping form."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"deploy/env.example: not NAME=value: {line!r}"
            entries[name.strip()] = value.strip()
    return entries


def compose_spec_schema() -> dict[str, Any]:
    resource = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    loaded = yaml.safe_load(resource.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# 1 -----------------------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = compose_spec_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(compose()), key=lambda error: list(error.path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.path))}: {error.message}" for error in errors
    )


def test_compose_describes_the_production_topology() -> None:
    expected = {"postgres", "redis", "minio", "init", "hub-api"} | AIRFLOW_COMPONENTS
    assert expected <= services().keys()
    airflow_env = compose()["x-airflow-common"]["environment"]
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-apiserver:8080/"
    )
    for name in AIRFLOW_COMPONENTS | {"init"}:
        env = environment(services()[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["HUB_ENV"] == "production", name
    hub_env = environment(services()["hub-api"])
    assert hub_env["HUB_ENV"] == "production"
    assert hub_env["HUB_DATABASE_URL"].startswith("postgresql+psycopg://")
    init_script = " ".join(strings(services()["init"]["command"]))
    assert "hub db upgrade" in init_script
    assert "airflow db migrate" in init_script
    mounted = " ".join(strings(services()["postgres"]["volumes"]))
    assert "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/" in mounted
    assert (ROOT / "deploy" / "postgres" / "init-databases.sh").is_file()


# 2 -----------------------------------------------------------------------------------------


def test_every_dependency_names_a_defined_service() -> None:
    defined = services().keys()
    for name, service in services().items():
        for dependency, condition in depends_on(service).items():
            assert dependency in defined, f"{name} depends on undefined service {dependency}"
            assert dependency != name, f"{name} depends on itself"
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }, f"{name}: unknown condition {condition}"
            if dependency in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, dependency)
            else:
                assert condition == "service_healthy", (name, dependency)


def test_every_named_volume_is_declared() -> None:
    declared = (compose().get("volumes") or {}).keys()
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith(("/", ".", "$")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


# 3 -----------------------------------------------------------------------------------------


def test_every_image_is_pinned_or_built_from_the_project() -> None:
    for name, service in services().items():
        if "build" in service:
            assert service["build"]["dockerfile"] == "Dockerfile", name
            assert (ROOT / service["build"]["context"] / "Dockerfile").is_file(), name
            continue
        image = service.get("image", "")
        assert image, f"{name} has neither image nor build"
        assert "$" not in image, f"{name}: image tag must not come from the environment"
        _, _, tag = image.rpartition(":")
        assert ":" in image and "/" not in tag, f"{name}: image {image} has no tag"
        assert tag != "latest", f"{name}: image {image} uses latest"
        assert PINNED_TAG.search(tag) or "@sha256:" in image, f"{name}: {image} not pinned"


# 4 -----------------------------------------------------------------------------------------


def test_every_secret_comes_from_a_guarded_variable() -> None:
    checked = 0
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert GUARD.match(value), f"{name}: {key} must be ${{VAR:?message}}"
                checked += 1
            for match in URL_PASSWORD.finditer(value):
                assert GUARD.match(match["password"]), f"{name}: {key} embeds a literal password"
                checked += 1
        command = service.get("command")
        if isinstance(command, list) and "--requirepass" in command:
            assert GUARD.match(command[command.index("--requirepass") + 1]), name
            checked += 1
    assert checked >= 10


def test_compose_file_holds_no_literal_secret() -> None:
    assignment = re.compile(
        r"(?<![{\w$])(?P<name>\w*(?:PASSWORD|PASSWD|SECRET|SECRET_KEY|MASTER_KEY|FERNET_KEY"
        r"|TOKEN))\s*[:=]\s*(?P<value>[^\s#]+)",
        re.IGNORECASE,
    )
    for number, line in enumerate(COMPOSE_FILE.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split(" #", 1)[0]
        if code.lstrip().startswith("#"):
            continue
        for match in assignment.finditer(code):
            value = match["value"].strip("\"'")
            assert value.startswith("${") and ":?" in value, (
                f"docker-compose.yml:{number}: {match['name']} has a literal value"
            )


def test_env_example_holds_no_secret_value() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    secrets = [name for name in env_example() if SECRET_NAME.search(name)]
    assert {"HUB_MASTER_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"} <= set(secrets)
    for name in secrets:
        assert env_example()[name] == "", f"deploy/env.example must leave {name} empty"
        # ${NAME:?...} refuses an empty value as well as a missing one, so a copy of the
        # example that was not filled in stops `docker compose` before anything starts.
        assert "${" + name + ":?" in text, f"{name} is never read with a guard"


# 5 -----------------------------------------------------------------------------------------


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy() -> None:
    assert services().keys() >= ONE_SHOT
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"one-shot {name} must not restart"
            continue
        assert service.get("restart") in {"always", "unless-stopped"}, name
        healthcheck = service.get("healthcheck") or {}
        assert not healthcheck.get("disable"), name
        test = healthcheck.get("test")
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, name


@pytest.mark.parametrize("name", sorted(AIRFLOW_COMPONENTS))
def test_airflow_components_share_the_common_definition(name: str) -> None:
    service = services()[name]
    common = compose()["x-airflow-common"]
    assert service["build"] == common["build"]
    assert environment(service).items() >= environment(common).items()


def test_every_service_of_the_hub_keeps_the_zones_in_object_storage() -> None:
    """The API and every Airflow component read and write the same buckets, and minio-init
    creates one per zone the hub has."""
    from hub.settings import ZONES

    for name in [*AIRFLOW_COMPONENTS, "init", "hub-api"]:
        env = environment(services()[name])
        assert env["HUB_STORAGE"] == "s3", name
        assert env["HUB_S3_ENDPOINT_URL"] == "http://minio:9000", name
    script = " ".join(strings(services()["minio-init"]["command"]))
    (loop,) = [line for line in script.splitlines() if line.strip().startswith("for zone in")]
    assert loop.split(" in ", 1)[1].removesuffix("; do").split() == list(ZONES)


def test_worker_can_scale() -> None:
    worker = services()["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["airflow", "celery", "worker"]


# 6 -----------------------------------------------------------------------------------------


def test_every_referenced_variable_is_documented_in_env_example() -> None:
    referenced: set[str] = set()
    for value in strings(compose()):
        referenced.update(REFERENCE.findall(value.replace("$$", "")))
    assert "HUB_MASTER_KEY" in referenced
    documented = env_example().keys()
    missing = sorted(referenced - documented)
    assert not missing, f"add to deploy/env.example: {', '.join(missing)}"
    unused = sorted(documented - referenced)
    assert not unused, f"deploy/env.example documents unused variables: {', '.join(unused)}"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in documented:
        comment_before = re.search(rf"#[^\n]*\n(?:#[^\n]*\n|\w+=[^\n]*\n)*{name}=", text)
        assert comment_before, f"deploy/env.example: {name} needs an explanation"


# 7 -----------------------------------------------------------------------------------------


def test_dockerfile_pins_its_base_and_installs_from_the_lock() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases, "Dockerfile has no FROM"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    runs = re.findall(r"^RUN\s+(.+?)(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert any("uv sync --locked" in run and "--no-dev" in run for run in runs)
    assert re.search(r"pip install[^\n]*\buv==\d+\.\d+\.\d+", text), "uv must be pinned"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var", ".env"} <= patterns
    assert "keys/keyring.json" in patterns or "keys/*" in patterns
    assert "!README.md" not in patterns and "README.md" not in patterns  # hatchling needs it
