"""Read-only SQL over a release, confined to what a project may see.

An analyst's query runs in a DuckDB database of its own, in memory, that holds only the project's
views: each release table a project may read, with only the columns it may read, loaded through
Arrow (the Parquet files themselves are never opened by the analyst's SQL). Then the database is
closed around them:

- ``enable_external_access = false``: no file, no URL, no ``ATTACH``, no ``COPY``, no
  ``read_csv('/etc/passwd')``;
- extensions are neither installed nor loaded automatically, and none can be loaded;
- ``lock_configuration = true``: no ``SET`` can give any of it back;
- one statement, and it must be a ``SELECT`` (``WITH ... SELECT`` included): anything else is
  refused before it runs;
- a time limit (the query is interrupted) and a row limit (the result says it was cut), a memory
  limit and two threads.

A table or column outside the project does not exist here, so a query naming it fails as for a
name that exists nowhere: nothing tells the analyst it is there. Errors are one line, in words an
analyst can act on, and never quote a row value.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hub.errors import UserError

DEFAULT_ROW_LIMIT = 100_000
DEFAULT_SECONDS = 30.0
DEFAULT_MEMORY = "2GB"


class QueryRefusedError(UserError):
    """The query is not allowed, or failed: one line an analyst can act on."""


@dataclass(frozen=True)
class QueryLimits:
    rows: int = DEFAULT_ROW_LIMIT
    seconds: float = DEFAULT_SECONDS
    memory: str = DEFAULT_MEMORY


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table  # at most ``limits.rows`` rows
    truncated: bool  # the query returned more rows than the limit
    seconds: float


def _load(release: Path, allowed: Mapping[str, Sequence[str]]) -> dict[str, pa.Table]:
    """Each allowed table of the release with its allowed columns only (in the file's order)."""
    tables = {}
    for name, columns in sorted(allowed.items()):
        path = release / f"{name}.parquet"
        present = pq.read_schema(path).names
        wanted = [c for c in present if c in set(columns)]
        tables[name] = pq.read_table(path, columns=wanted)
    return tables


class Sandbox:
    """A database holding one project's view of one release; ``run`` executes a query in it.
    Not thread-safe: one query at a time per sandbox."""

    def __init__(
        self,
        release: Path,
        allowed: Mapping[str, Sequence[str]],
        limits: QueryLimits | None = None,
    ) -> None:
        import duckdb

        self.limits = limits or QueryLimits()
        self._con = duckdb.connect(
            config={
                "threads": 2,
                "memory_limit": self.limits.memory,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
                "python_enable_replacements": False,  # no scan of Python variables by name
            }
        )
        for name, table in _load(release, allowed).items():
            # a real table in the in-memory database, copied from Arrow: nothing refers back to
            # the file or to Python objects once the query runs
            self._con.register("incoming", table)
            self._con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
            self._con.unregister("incoming")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def tables(self) -> dict[str, list[str]]:
        """What the project sees: each table's columns."""
        rows = self._con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        seen: dict[str, list[str]] = {}
        for table, column in rows:
            seen.setdefault(str(table), []).append(str(column))
        return seen

    def run(self, sql: str) -> QueryResult:
        """Run one read-only ``SELECT``; refuse anything else."""
        import duckdb

        statement = self._only_select(sql)
        timer = threading.Timer(self.limits.seconds, self._con.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            reader = self._con.sql(statement).to_arrow_reader(8192)
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > self.limits.rows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException:
            raise QueryRefusedError(
                f"the query ran for more than {self.limits.seconds:g} s and was stopped",
                hint="aggregate before selecting rows, or filter on area or month",
            ) from None
        except duckdb.Error as exc:
            raise QueryRefusedError(_one_line(exc), hint=_hint(exc)) from None
        finally:
            timer.cancel()
        truncated = table.num_rows > self.limits.rows
        return QueryResult(
            table.slice(0, self.limits.rows), truncated, time.perf_counter() - started
        )

    def _only_select(self, sql: str) -> str:
        import duckdb

        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryRefusedError(
                _one_line(exc), hint="check the SQL near the place named"
            ) from None
        if len(statements) != 1:
            raise QueryRefusedError(
                f"send one statement at a time (this has {len(statements)})",
                hint="remove the extra statements after the first ';'",
            )
        (statement,) = statements
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise QueryRefusedError(
                f"only SELECT queries can run here (this is {kind})",
                hint="the release is read-only: query it with SELECT ... FROM event, person, "
                "place or measures",
            )
        return str(statement.query)


def _one_line(exc: Exception) -> str:
    """DuckDB's message, first line only (its later lines can list candidate names), with every
    single-quoted text replaced: a conversion error quotes the row value it failed on."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"'[^']*'", "'…'", first)[:300]


def _hint(exc: Exception) -> str:
    text = str(exc)
    if "does not exist" in text or "not found" in text:
        return (
            "only your project's tables and columns exist here; list them with "
            "SELECT * FROM information_schema.columns"
        )
    if "external access" in text.lower() or "permission" in text.lower():
        return "files, URLs and extensions cannot be used from a query"
    return "check the SQL near the place named"
