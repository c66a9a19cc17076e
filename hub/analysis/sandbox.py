"""Read-only SQL over a release, confined to what a project may see.

An analyst's query runs in a DuckDB database of its own, in memory, that holds only the project's
views (``hub.analysis.access`` writes them): each release table a project may read, with only the
rows and columns it may read, as a view over the release's Parquet files. The views are made
first; then the database is closed around them:

- ``allowed_directories`` is the release's folder and ``enable_external_access = false``: no
  other file, no URL, no ``ATTACH``, no ``COPY``, no ``read_csv('/etc/passwd')``;
- extensions are neither installed nor loaded automatically, and none can be loaded;
- ``lock_configuration = true``: no ``SET`` can give any of it back;
- one statement, and it must be a ``SELECT`` (``WITH ... SELECT`` included), and DuckDB's own
  parser must find in it no table but the project's views (and the query's own ``WITH`` names)
  and no table function but ``range``, ``generate_series`` and ``unnest``: so not even the
  release's files can be read except through the views;
- a time limit (the query is interrupted) and a row limit (the result says it was cut), a memory
  limit and two threads.

A table or column outside the project does not exist here, so a query naming it fails as for a
name that exists nowhere: nothing tells the analyst it is there. Errors are one line, in words an
analyst can act on, and never quote a row value.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# functions whose failure depends on the data: a query failing only when some row matches would
# tell a counts-only analyst that such a row exists
BLOCKED_FUNCTIONS = frozenset({"error"})
CATALOGUE_TABLES = frozenset({("information_schema", "columns"), ("information_schema", "tables")})


def quoted(name: str) -> str:
    """``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def file_literal(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return literal(str(path))


def column_views(release: Path, allowed: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The simplest views: each allowed table of the release with its allowed columns only (in
    the file's order), every row."""
    views = {}
    for name, columns in sorted(allowed.items()):
        path = release / f"{name}.parquet"
        wanted = [c for c in pq.read_schema(path).names if c in set(columns)]
        views[name] = (
            f"SELECT {', '.join(quoted(c) for c in wanted)} FROM read_parquet({file_literal(path)})"
        )
    return views


class Sandbox:
    """A database holding one project's view of one release; ``run`` executes a query in it.
    Not thread-safe: one query at a time per sandbox."""

    def __init__(
        self,
        release: Path,
        views: Mapping[str, str],
        limits: QueryLimits | None = None,
    ) -> None:
        import duckdb

        self.limits = limits or QueryLimits()
        self._views = frozenset(name.lower() for name in views)
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
        try:
            for name, select in sorted(views.items()):
                self._con.execute(f"CREATE VIEW {quoted(name)} AS {select}")
            folder = str(release.resolve()).rstrip("/") + "/"
            self._con.execute("SET allowed_directories = ?", [[folder]])
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")
        except BaseException:
            self._con.close()
            raise

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

        statement = self.select_only(sql)
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

    def select_only(self, sql: str) -> str:
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
        query = str(statement.query)
        self._only_views(query)
        return query

    def _only_views(self, query: str) -> None:
        """Refuse a query whose parse tree reads anything but the project's views."""
        ((serialised,),) = self._con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()
        tree = json.loads(serialised)
        if tree.get("error"):
            raise QueryRefusedError(
                "the query could not be checked: " + blank(str(tree.get("error_message", ""))),
                hint="write it as a plain SELECT over your project's tables",
            )
        ctes = {name.lower() for name in _cte_names(tree)}
        for node in _nodes(tree):
            kind = node.get("type")
            if node.get("class") == "FUNCTION" and kind == "FUNCTION":
                name = str(node.get("function_name", "")).lower()
                if name in BLOCKED_FUNCTIONS:
                    raise QueryRefusedError(
                        f"function {name} is disabled by configuration here",
                        hint="write the query without it",
                    )
            if kind == "TABLE_FUNCTION":
                function = node.get("function") or {}
                name = str(function.get("function_name", "")).lower()
                if name not in PURE_TABLE_FUNCTIONS:
                    raise QueryRefusedError(
                        f"table function {name} is disabled by configuration here",
                        hint="files, URLs and extensions cannot be used from a query; read "
                        "your project's tables by name",
                    )
            elif kind == "BASE_TABLE":
                schema = str(node.get("schema_name", "")).lower()
                table = str(node.get("table_name", "")).lower()
                catalog = str(node.get("catalog_name", "")).lower()
                if (schema, table) in CATALOGUE_TABLES and not catalog:
                    continue
                if (
                    schema in ("", "main")
                    and catalog in ("", "memory")
                    and (table in self._views or table in ctes)
                ):
                    continue
                if any(mark in table for mark in "/.:\\"):
                    raise QueryRefusedError(
                        "reading files or URLs is disabled by configuration here",
                        hint="read your project's tables by name",
                    )
                raise QueryRefusedError(
                    f"Table with name {blank(table)} does not exist",
                    hint=_hint(Exception("does not exist")),
                )


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a parse tree, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: Any) -> list[str]:
    """The names the query's ``WITH`` clauses (at any depth) define."""
    names: list[str] = []
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.extend(str(entry.get("key", "")) for entry in cte_map.get("map", []))
    return names


def blank(text: str) -> str:
    return re.sub(r"'[^']*'", "'…'", text)


# Errors raised by a value of the data: their messages quote the value (in single or double
# quotes, or as the numbers of an overflow), so only their kind is told
DATA_ERRORS = {
    "Conversion Error": "a value could not be converted to the type asked for",
    "Out of Range Error": "a calculation went out of its type's range",
    "Invalid Input Error": "a value is not valid input for a function",
}


def _one_line(exc: Exception) -> str:
    """DuckDB's message, first line only (its later lines can list candidate names), with every
    single-quoted text replaced; for an error raised by a data value, only what kind of error
    it was (its message would quote the value)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    for kind, words in DATA_ERRORS.items():
        if first.startswith(kind):
            return f"{kind}: {words} (the value is not shown)"
    return blank(first)[:300]


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
