"""What one project sees of a release: which releases, which rows, which columns.

A project sees a release when at least one of the agreements it may draw on today
(``hub.analysis.projects.approval``) fed it. In that release it sees:

- ``event``: the events from its agreements only, with only the columns those agreements feed
  (an ED-only project has no ``ho_offence_code``: no ED extract carries one). The person key is
  there only for a row-level project: an aggregate-only project counts events and people, it
  never holds a key that follows one person through the table.
- ``person``: one row per person with an event from its agreements, worked out from those events
  alone (``sources``, ``events``, first and last seen), so nothing in it says that a patient is
  also known to the police unless the project draws on both. Again, the key only when row-level.

- ``project_person_keys``: for a row-level project that is also a longitudinal project of its
  agreements (``longitudinal_projects``), the release's person keys mapped to the project's own
  keys, which stay the same from one release to the next (``hub.publication.pseudonyms``).

Every other table, column and release is absent from the project's sandbox, its catalogue and its
measures. Aggregate outputs are controlled with the strictest disclosure rule of the project's
agreements.

Releases are read where the published zone is (``hub.storage``): a release is listed from its
``manifest.json`` alone, and its files are read from a local folder, the zone's own locally and,
from object storage, a copy fetched the first time a query, measure or catalogue page needs it
(``ZoneStore.mirror``; a copy of a release since deleted is removed when it is next listed).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from hub.agreements.model import Agreement
from hub.analysis.projects import Approval
from hub.analysis.sandbox import file_literal, literal, quoted
from hub.errors import NotFoundError, UserError
from hub.privacy.disclosure import DisclosureRule, strictest
from hub.publication.events import FLAGS
from hub.publication.pseudonyms import project_keys_path
from hub.settings import Settings
from hub.storage import ZoneStore, locate
from hub.store import Release, session_scope

EVENT_ALWAYS = ("source", "role", "event_type", "event_week", "event_month")
MANIFEST = "manifest.json"
# a project's tables (name -> columns) and views (name -> the SELECT that defines it)
Shape = tuple[dict[str, list[str]], dict[str, str]]


class ReleaseView:
    """One project's view of one release.

    What comes from the manifest is known at once; ``path`` (the release's files as a local
    folder, for DuckDB: a copy fetched once from object storage, ``ZoneStore.mirror``),
    ``tables`` and ``views`` are worked out on first use, so listing releases reads manifests
    only. ``path`` is a folder, or what gives it; ``shape`` gives the tables and views from
    that folder (without it, ``tables`` and ``views`` are as given)."""

    def __init__(
        self,
        *,
        release_id: str,
        path: Path | Callable[[], Path],
        created_at: str,
        manifest: dict[str, object],
        sources: tuple[str, ...],
        rule: DisclosureRule,
        row_level: bool,
        tables: dict[str, list[str]] | None = None,
        views: dict[str, str] | None = None,
        shape: Callable[[Path], Shape] | None = None,
    ) -> None:
        self.release_id = release_id
        self.created_at = created_at
        self.manifest = manifest
        self.sources = sources  # the project's agreements that fed this release
        self.rule = rule
        self.row_level = row_level
        self._folder = path
        self._given: Shape = (tables or {}, views or {})
        self._shape = shape

    @functools.cached_property
    def path(self) -> Path:
        """The release's files as a local folder (fetched on first use from object storage)."""
        return self._folder() if callable(self._folder) else self._folder

    @functools.cached_property
    def _shaped(self) -> Shape:
        return self._given if self._shape is None else self._shape(self.path)

    @property
    def tables(self) -> dict[str, list[str]]:
        """View name -> its columns, in order."""
        return self._shaped[0]

    @property
    def views(self) -> dict[str, str]:
        """View name -> the SELECT that defines it."""
        return self._shaped[1]


def fed_columns(agreement: Agreement) -> set[str]:
    """The ``event`` columns an agreement's extracts give values to (definitions' ``sv_`` and
    ``harm_`` columns are worked out for every event, ``harm_`` from the offence code)."""
    spec = agreement.publication
    columns = set(EVENT_ALWAYS)
    optional = {
        "ho_offence_code": spec.offence_code_field,
        "event_hour": spec.event_hour_field,
        "area_code": spec.area_field,
        "age_band": spec.age_band_field,
        "sex": spec.sex_field,
        "home_area": spec.home_area_field,
    }
    columns.update(name for name, field in optional.items() if field)
    if spec.area_field:
        columns.add("local_authority")
    if spec.home_area_field:
        columns.add("home_local_authority")
    columns.update(f"flag_{name}" for name in FLAGS if name in spec.flags)
    return columns


def _manifest(store: ZoneStore, folder: str) -> dict[str, object] | None:
    try:
        text = store.read_text(f"{folder}/{MANIFEST}")
    except UserError:
        return None  # deleted by retention, or never finished
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else None


def input_agreements(manifest: dict[str, object]) -> set[str]:
    inputs = manifest.get("inputs")
    return (
        {str(i["agreement_id"]) for i in inputs if isinstance(i, dict) and "agreement_id" in i}
        if isinstance(inputs, list)
        else set()
    )


def visible_releases(
    settings: Settings, engine: Engine, approval: Approval, agreements: dict[str, Agreement]
) -> list[ReleaseView]:
    """The releases the project sees, newest first."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Release.id, Release.path).order_by(Release.created_at.desc(), Release.id.desc())
        ).all()
    views = []
    for release_id, recorded in rows:
        store, folder = locate(settings, recorded)
        manifest = _manifest(store, folder)
        if manifest is None:
            store.forget_mirror(folder, settings.cache_dir)  # gone: this machine's copy goes too
            continue
        view = _view(approval, agreements, release_id, manifest, store, folder, settings.cache_dir)
        if view is not None:
            views.append(view)
    return views


def release_view(
    settings: Settings,
    engine: Engine,
    approval: Approval,
    agreements: dict[str, Agreement],
    release_id: str | None,
) -> ReleaseView:
    """The project's view of ``release_id`` (None: the newest release it sees). A release it does
    not see is reported exactly like one that does not exist."""
    releases = visible_releases(settings, engine, approval, agreements)
    if release_id is None:
        if not releases:
            raise NotFoundError(
                f"there is no release for project {approval.project.name} yet",
                hint="a release appears once an agreement of the project is in force and "
                "its data has been published",
            )
        return releases[0]
    for view in releases:
        if view.release_id == release_id:
            return view
    raise NotFoundError(
        f"no release {release_id}", hint="the catalogue page lists the releases you can query"
    )


def _view(
    approval: Approval,
    agreements: dict[str, Agreement],
    release_id: str,
    manifest: dict[str, object],
    store: ZoneStore,
    folder: str,
    cache_dir: Path,
) -> ReleaseView | None:
    sources = tuple(sorted(input_agreements(manifest) & set(approval.sources)))
    if not sources:
        return None
    terms = {s: agreements[s] for s in sources}
    fed = set().union(*(fed_columns(a) for a in terms.values()))
    row_level = approval.project.row_level
    project = approval.project.name
    keys = row_level and project in _projects(manifest)
    return ReleaseView(
        release_id=release_id,
        path=functools.partial(store.mirror, folder, cache_dir),
        created_at=str(manifest.get("created_at", "")),
        manifest=manifest,
        sources=sources,
        rule=strictest(a.disclosure for a in terms.values()),
        row_level=row_level,
        shape=functools.partial(_shape, fed, sources, row_level, project if keys else None),
    )


def _shape(
    fed: set[str], sources: tuple[str, ...], row_level: bool, project: str | None, path: Path
) -> Shape:
    """The tables and views of a project's view of the release in the local folder ``path``;
    ``project``: the longitudinal project whose key table it may read, if any."""
    event_file = path / "event.parquet"
    names = pq.read_schema(event_file).names
    event_columns = [
        n
        for n in names
        if n in fed or n.startswith("sv_") or (n.startswith("harm_") and "ho_offence_code" in fed)
    ]
    if row_level:
        event_columns.insert(0, "person_key")
    where = f"source IN ({', '.join(literal(s) for s in sources)})"
    base = f"read_parquet({file_literal(event_file)})"
    views = {
        "event": f"SELECT {', '.join(quoted(c) for c in event_columns)} FROM {base} WHERE {where}"
    }
    person_columns, person_select = _person(fed, row_level, base, where)
    views["person"] = person_select
    tables = {"event": event_columns, "person": person_columns}
    keys_file = project_keys_path(path, project) if project is not None else None
    if keys_file is not None and keys_file.is_file():
        # a longitudinal project of the agreements: its keys follow people across releases
        views["project_person_keys"] = (
            f"SELECT person_key, project_person_key FROM read_parquet({file_literal(keys_file)})"
        )
        tables["project_person_keys"] = ["person_key", "project_person_key"]
    return tables, views


def _projects(manifest: dict[str, object]) -> set[str]:
    projects = manifest.get("projects")
    return set(projects) if isinstance(projects, dict) else set()


def _person(fed: set[str], row_level: bool, base: str, where: str) -> tuple[list[str], str]:
    """The ``person`` view: each person of the project's events, from those events alone."""
    parts: list[tuple[str, str]] = []
    if row_level:
        parts.append(("person_key", "person_key"))
    if "sex" in fed:
        parts.append(("sex", "max(sex)"))
    if "age_band" in fed:
        parts.append(("age_band_at_first_event", "arg_min(age_band, event_week)"))
    if "home_area" in fed:
        parts.append(("home_area", "max(home_area)"))
    parts += [
        ("first_seen_week", "min(event_week)"),
        ("last_seen_week", "max(event_week)"),
        ("sources", "list(DISTINCT source ORDER BY source)"),
        ("events", "CAST(count(*) AS INTEGER)"),
    ]
    select = ", ".join(f"{expr} AS {quoted(name)}" for name, expr in parts)
    return [name for name, _ in parts], (
        f"SELECT {select} FROM {base} WHERE {where} AND person_key IS NOT NULL GROUP BY person_key"
    )
