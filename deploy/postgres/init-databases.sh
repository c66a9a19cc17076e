#!/bin/sh
# Creates the databases named in POSTGRES_EXTRA_DATABASES (space-separated; "airflow" in
# docker-compose.yml) beside POSTGRES_DB ("hub"), owned by POSTGRES_USER.
#
# The postgres image runs the scripts in /docker-entrypoint-initdb.d once, when the data volume
# is empty. To add a database to an existing installation, run the same CREATE DATABASE by hand.
# Safe to run twice: an existing database is left alone.
set -eu

for db in ${POSTGRES_EXTRA_DATABASES:-airflow}; do
    echo "init-databases: ensuring database ${db}"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
        --set=db="${db}" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', current_user)
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
done
