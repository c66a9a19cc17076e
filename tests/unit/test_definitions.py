"""Serious-violence definitions: which events count under each, from the configuration file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from hub.errors import UserError
from hub.publication.definitions import (
    DEFINITIONS_FILE,
    Definition,
    Definitions,
    Rule,
    counts_under,
    flag_events,
    load_definitions,
    manifest_entry,
)
from hub.publication.events import EVENT_SCHEMA

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _events(rows: list[dict[str, object]]) -> pa.Table:
    """Event rows with only the columns the definitions read (others null)."""
    full = [{f.name: row.get(f.name) for f in EVENT_SCHEMA} for row in rows]
    return pa.Table.from_pylist(full, schema=EVENT_SCHEMA)


EVENTS = _events(
    [
        {"ho_offence_code": "008/01", "flag_knife": True},  # 0 knife assault
        {"ho_offence_code": "008/01", "flag_knife": False},  # 1 assault, no weapon
        {"ho_offence_code": "008/01", "flag_knife": True, "flag_domestic_abuse": True},  # 2
        {"ho_offence_code": "001/01", "flag_domestic_abuse": None},  # 3 homicide, flag unknown
        {"ho_offence_code": "008/17", "flag_domestic_abuse": True},  # 4 stalking, domestic
        {"event_type": "ed_assault_attendance", "flag_knife": True},  # 5 ED, knife
        {"event_type": "ed_assault_attendance"},  # 6 ED, flag not recorded
        {"ho_offence_code": None},  # 7 nothing known
    ]
)


def test_rules_combine_codes_types_and_flags() -> None:
    armed = Definition(
        id="armed",
        title="t",
        include=(
            Rule(codes=("001/01",)),
            Rule(codes=("008/01",), any_flag=("knife", "firearm")),
            Rule(types=("ED_Assault_Attendance",), all_flags=("knife",)),
        ),
        exclude=(Rule(any_flag=("domestic_abuse",)),),
    )
    assert counts_under(armed, EVENTS).to_pylist() == [
        True, False, False, True, False, True, False, False,
    ]  # fmt: skip
    broad = Definition(id="broad", title="t", include=(Rule(codes=("008/01", "008/17", "001/01")),))
    assert counts_under(broad, EVENTS).to_pylist() == [True] * 5 + [False] * 3
    sober = Definition(id="sober", title="t", include=(Rule(no_flag=("knife", "firearm")),))
    assert counts_under(sober, EVENTS).to_pylist() == [
        False, True, False, True, True, False, True, True,
    ]  # fmt: skip


def test_flagging_adds_a_column_per_definition_and_harm_where_weighted() -> None:
    definitions = Definitions(
        version=1,
        definitions=(
            Definition(id="a", title="A", include=(Rule(codes=("008/01", "001/01")),)),
            Definition(
                id="h",
                title="H",
                include=(Rule(codes=("008/01", "001/01")),),
                harm_weights={"001/01": 5475.0},
            ),
        ),
    )
    flagged = flag_events(EVENTS, definitions)
    assert flagged.column_names[-3:] == ["sv_a", "sv_h", "harm_h"]
    assert flagged.column("harm_h").to_pylist()[:4] == [0.0, 0.0, 0.0, 5475.0]
    assert flagged.column("harm_h").to_pylist()[4] is None  # not counted: no harm
    entry = manifest_entry(definitions, "abc")
    assert [d["column"] for d in entry["definitions"]] == ["sv_a", "sv_h"]  # type: ignore[index,union-attr]


def test_the_partnership_file_loads_and_differs_as_the_strategies_do() -> None:
    definitions, digest = load_definitions(CONTRACTS)
    assert digest is not None and len(digest) == 64
    ids = [d.id for d in definitions.definitions]
    assert ids == ["merseyside", "manchester", "cheshire", "lancashire"]
    flagged = flag_events(EVENTS, definitions)
    counted = {i: flagged.column(f"sv_{i}").to_pylist() for i in ids}
    assert counted["merseyside"][:3] == [True, False, False]  # armed only; domestic excluded
    assert counted["cheshire"][:5] == [True, True, True, True, True]  # domestic, stalking in
    assert counted["manchester"][2] is False and counted["lancashire"][2] is True
    assert "harm_lancashire" in flagged.column_names


def test_no_file_means_no_definitions(tmp_path: Path) -> None:
    definitions, digest = load_definitions(tmp_path)
    assert definitions.definitions == () and digest is None
    assert flag_events(EVENTS, definitions).column_names == EVENTS.column_names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ndefinitions:\n  - {id: a, title: A, include: [{any_flag: [knives]}]}\n",
         "unknown flag knives"),
        ("version: 1\ndefinitions:\n  - {id: a, title: A, include: [{note: x}]}\n",
         "needs at least one of codes"),
        ("version: 1\ndefinitions:\n  - {id: a, title: A, include: [{codes: [x]}]}\n"
         "  - {id: a, title: B, include: [{codes: [y]}]}\n", "definition a is defined twice"),
        ("version: 1\ndefinitions:\n  - {id: a, title: A, include: [{codes: [x], note: b, c}]}\n",
         "Extra inputs"),
        ("version: 1\ndefinitions: [\n", "not valid YAML at line"),
    ],
)  # fmt: skip
def test_a_broken_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / DEFINITIONS_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UserError, match=message) as raised:
        load_definitions(tmp_path)
    assert raised.value.message.startswith("serious-violence.yaml")
