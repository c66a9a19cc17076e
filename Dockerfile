# The hub's one image: the hub CLI and API, and every Airflow 3 component (docker-compose.yml).
# Installs exactly what uv.lock says (no dev tools) and runs as an unprivileged user.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# uv from PyPI, pinned to the version the lock file is maintained with.
RUN pip install --no-cache-dir uv==0.13.9

# Unprivileged user; the data, key and Airflow directories are created here with its ownership
# so that named volumes mounted on them start out writable by it.
RUN groupadd --system --gid 10001 hub \
    && useradd --system --uid 10001 --gid hub --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin hub \
    && mkdir -p /app /srv/hub/data /srv/hub/keys /srv/airflow/logs /srv/airflow/auth \
    && chown -R hub:hub /srv/hub /srv/airflow \
    && chmod 700 /srv/hub/data /srv/hub/keys /srv/airflow/auth

WORKDIR /app

# Dependencies first (cached while only the code changes), then the project itself (editable,
# so hub.settings finds contracts/ beside hub/ in /app). Code and environment stay owned by
# root: the hub user can run them but not change them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
RUN uv sync --locked --no-dev
# Compile the keyed-hashing kernel once into the image, so workers do not pay it per task.
ENV NUMBA_CACHE_DIR=/app/.numba-cache
RUN /app/.venv/bin/python -c "import pyarrow as pa; from hub.privacy.hmac_batch import hmac_sha256_batch; hmac_sha256_batch(b'warm', pa.array(['x']), backend='libcrypto')"

USER hub

ENV HUB_DATA_DIR=/srv/hub/data \
    HUB_KEY_DIR=/srv/hub/keys \
    HUB_AIRFLOW_HOME=/srv/airflow \
    AIRFLOW_HOME=/srv/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/app/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

EXPOSE 8000 8080

CMD ["hub", "--help"]
