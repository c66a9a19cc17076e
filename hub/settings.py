"""The hub's one settings class. Values come from ``HUB_``-prefixed environment variables.

Settings are built by the entry points (CLI, API, DAG files) and passed down; no module reads
the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ZONES = ("landing", "staging", "linkage", "published", "quarantine", "quality")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where the hub keeps its data, metadata and keys."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    key_dir: Path = Path("keys")
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    master_key_provider: str | None = None  # "package.module:factory" of a KMS or vault client
    airflow_home: Path | None = None
    contracts_dir: Path = PROJECT_ROOT / "contracts"
    max_upload_bytes: int = Field(default=2 << 30, gt=0)  # the partner API's size limit (2 GiB)
    # What an accepted extract starts (hub.pipeline.trigger): staging in the hub's own process,
    # an Asset event through Airflow's REST API, or nothing (`hub extract stage` by hand).
    pipeline_trigger: Literal["inprocess", "airflow", "none"] = "inprocess"
    airflow_api_url: str | None = None  # Airflow 3 api-server, e.g. http://airflow-apiserver:8080
    airflow_api_username: str | None = None  # a user allowed to create asset events (OP or above)
    airflow_api_password: SecretStr | None = None
    airflow_api_token: SecretStr | None = None  # a JWT instead of a user name and password
    airflow_api_timeout: float = Field(default=10.0, gt=0)  # seconds per request
    # Where the zones live (hub.storage): a folder under data_dir, or S3-compatible buckets named
    # <s3_bucket_prefix>-<zone> at s3_endpoint_url (AWS itself when unset)
    storage: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket_prefix: str = Field(default="svd-hub", pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    s3_region: str = "eu-west-2"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    @model_validator(mode="after")
    def _airflow_trigger_needs_its_api(self) -> Settings:
        if self.pipeline_trigger != "airflow":
            return self
        url = self.airflow_api_url or ""
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                "HUB_PIPELINE_TRIGGER=airflow needs HUB_AIRFLOW_API_URL, the http(s) address of "
                "Airflow's api-server"
            )
        password = self.airflow_api_password
        has_user = self.airflow_api_username is not None or password is not None
        if self.airflow_api_token is None and not (
            self.airflow_api_username and password is not None and password.get_secret_value()
        ):
            raise ValueError(
                "HUB_PIPELINE_TRIGGER=airflow needs HUB_AIRFLOW_API_USERNAME and "
                "HUB_AIRFLOW_API_PASSWORD, or HUB_AIRFLOW_API_TOKEN"
            )
        if has_user and self.airflow_api_token is not None:
            raise ValueError(
                "set either HUB_AIRFLOW_API_TOKEN or HUB_AIRFLOW_API_USERNAME and "
                "HUB_AIRFLOW_API_PASSWORD, not both"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_shortcuts_in_production(self) -> Settings:
        if self.env == "production":
            if (
                self.master_key is None
                and self.master_key_file is None
                and self.master_key_provider is None
            ):
                raise ValueError(
                    "HUB_MASTER_KEY, HUB_MASTER_KEY_FILE or HUB_MASTER_KEY_PROVIDER must be set "
                    "in production; the generated development master key is refused"
                )
            if self.database_url is None or self.database_url.startswith("sqlite"):
                raise ValueError("HUB_DATABASE_URL must name a server database in production")
        return self

    @property
    def metadata_url(self) -> str:
        """SQLAlchemy URL of the metadata store (SQLite under the data directory by default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def airflow_dir(self) -> Path:
        return self.airflow_home if self.airflow_home is not None else self.data_dir / "airflow"

    @property
    def reference_dir(self) -> Path:
        """Reference lookups the hub may read (postcode to LSOA), never partner data."""
        return self.data_dir / "reference"

    @property
    def signer_dirs(self) -> tuple[Path, ...]:
        """Where data protection leads' public keys are registered: ``keys/public`` and, outside
        production, the development signers the demo generates under the data directory."""
        dirs = [self.key_dir / "public"]
        if self.env != "production":
            dirs.append(self.dev_signer_dir)
        return tuple(dirs)

    @property
    def dev_signer_dir(self) -> Path:
        """Public keys of development-only leads (git-ignored; never read in production)."""
        return self.data_dir / "dev-signers"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def dev_master_key_file(self) -> Path:
        """Where a development master key is generated when none is configured (git-ignored)."""
        return self.data_dir / "secrets" / "master.key"

    @property
    def work_dir(self) -> Path:
        """Local scratch space of the processing steps: files are written here whole and then
        put into their zone (hub.storage); never read as a zone."""
        return self.data_dir / "work"

    @property
    def cache_dir(self) -> Path:
        """Local copies of unchanging zone files (a release's tables) read from object storage."""
        return self.data_dir / "cache"

    def zone(self, name: str) -> Path:
        """Path of one zone of the data directory; unknown zone names are a programming error."""
        if name not in ZONES:
            raise ValueError(f"unknown zone {name!r}; zones are {', '.join(ZONES)}")
        return self.data_dir / name

    def ensure_dirs(self) -> None:
        """Create the data directory and its zones with owner-only permissions."""
        if self.storage == "local":
            for name in ZONES:
                self.zone(name).mkdir(parents=True, exist_ok=True, mode=0o700)
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
