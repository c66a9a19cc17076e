"""The synthetic partnership: layout, determinism, volumes, ground truth, overlaps and noise.

Every run writes under pytest's ``tmp_path``; small runs (3,000 rows) keep the module fast.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from hub.errors import UserError
from hub.privacy.checksums import nhs_number_is_valid, pnc_check_letter, upn_is_valid
from hub.synth import DEFAULT_SEED, SynthSummary, generate_partnership

SMALL = 3_000
FEEDS = ("police-sv", "ed-assaults", "ambulance-assaults", "youth-justice", "schools")
DEFAULT_ROWS = {
    "police-sv": 70_000,
    "ed-assaults": 4_000,
    "ambulance-assaults": 850,
    "youth-justice": 400,
    "schools": 9_000,
}
COLUMNS = {
    "police-sv": [
        "crime_reference", "person_urn", "pnc_id", "involvement", "forename", "surname",
        "date_of_birth", "sex", "home_postcode", "offence_date", "offence_time", "recorded_date",
        "offence_type", "ho_offence_code", "knife_flag", "firearm_flag", "domestic_abuse_flag",
        "alcohol_flag", "youth_flag", "night_time_economy_flag", "lsoa_code", "mo_text",
    ],
    "ed-assaults": [
        "site_code", "period_start", "period_end", "attendance_id", "nhs_number", "forename",
        "surname", "date_of_birth", "sex", "postcode", "arrival_datetime", "assault_datetime",
        "assault_method", "other_method_description", "assault_location_type",
        "assault_location_description",
    ],
    "ambulance-assaults": [
        "incident_number", "call_datetime", "nature_of_call", "patient_forename",
        "patient_surname", "patient_age", "date_of_birth", "sex", "nhs_number", "incident_lsoa",
        "conveyed", "destination_site_code",
    ],
    "youth-justice": [
        "yjs_case_id", "forename", "surname", "date_of_birth", "sex", "upn", "postcode",
        "offence_type", "ho_offence_code", "outcome", "outcome_date", "first_time_entrant",
        "knife_flag",
    ],
    "schools": [
        "upn", "forename", "surname", "date_of_birth", "sex", "postcode", "school_urn",
        "academic_year", "event_type", "event_date", "sessions", "reason_code",
    ],
}  # fmt: skip
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")
PNC = re.compile(r"^(\d{4})/(\d{7})([A-Z])$")


class Run:
    """One generated partnership, read back as plain Python rows."""

    def __init__(self, summary: SynthSummary) -> None:
        self.summary = summary
        self.out = summary.out_dir
        self.rows: dict[str, list[dict[str, Any]]] = {}
        for feed in FEEDS:
            path = summary.files[feed]
            if path.suffix == ".parquet":
                self.rows[feed] = pq.read_table(path).to_pylist()
            else:
                with path.open(encoding="utf-8", newline="") as handle:
                    self.rows[feed] = list(csv.DictReader(handle))
        truth = pq.read_table(self.out / "ground_truth" / "truth.parquet").to_pylist()
        self.truth = truth
        self.person: dict[str, list[str]] = defaultdict(list)
        for t in truth:
            self.person[t["agreement_id"]].append(t["person_id"])
        people = pq.read_table(self.out / "ground_truth" / "people.parquet").to_pylist()
        self.people = {p["person_id"]: p for p in people}

    def people_of(self, feed: str) -> set[str]:
        return set(self.person[feed])

    def pairs(self, feed: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(extract row, true person) for every row of a feed."""
        return [
            (row, self.people[pid])
            for row, pid in zip(self.rows[feed], self.person[feed], strict=True)
        ]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(generate_partnership(tmp_path_factory.mktemp("noisy"), seed=11, rows=SMALL))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(generate_partnership(tmp_path_factory.mktemp("clean"), seed=11, rows=SMALL, noise=0))


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path, run: Run) -> None:
    again = generate_partnership(tmp_path / "again", seed=11, rows=SMALL)
    first, second = _files(run.out), _files(again.out_dir)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    other = _files(generate_partnership(tmp_path / "other", seed=12, rows=SMALL).out_dir)
    differ = {name for name in first if first[name] != other[name]}
    # The reference geography is fixed (like the ONS directory); everything else changes.
    assert differ == set(first) - {"reference/postcode_lsoa.csv"}


def test_layout_and_exact_columns(run: Run) -> None:
    for feed in FEEDS:
        path = run.summary.files[feed]
        assert path.parent == run.out / "extracts"
        if path.suffix == ".parquet":
            assert pq.read_schema(path).names == COLUMNS[feed]
        else:
            header = path.read_text(encoding="utf-8").splitlines()[0]
            assert header == ",".join(COLUMNS[feed])
            assert all(list(row) == COLUMNS[feed] and None not in row for row in run.rows[feed])
    reference = (run.out / "reference" / "postcode_lsoa.csv").read_text(encoding="utf-8")
    assert reference.splitlines()[0] == "postcode,lsoa_code,lsoa_name,local_authority"
    truth = pq.read_schema(run.out / "ground_truth" / "truth.parquet")
    assert [(f.name, str(f.type)) for f in truth] == [
        ("agreement_id", "string"), ("row_number", "int64"), ("person_id", "string"),
    ]  # fmt: skip
    people = pq.read_schema(run.out / "ground_truth" / "people.parquet")
    assert people.names == [
        "person_id", "forename", "surname", "date_of_birth", "sex", "nhs_number", "upn",
        "pnc_id", "postcodes",
    ]  # fmt: skip
    yj = pq.read_schema(run.summary.files["youth-justice"])
    assert str(yj.field("date_of_birth").type) == "date32[day]"
    assert str(yj.field("first_time_entrant").type) == "bool"


@pytest.mark.parametrize("rows", [999, 10_000_001, 0, -5])
def test_rows_out_of_bounds_are_user_errors(tmp_path: Path, rows: int) -> None:
    with pytest.raises(UserError) as caught:
        generate_partnership(tmp_path, rows=rows)
    assert "\n" not in caught.value.message
    assert caught.value.hint
    assert not any(tmp_path.iterdir())


def test_bad_noise_and_seed_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        generate_partnership(tmp_path, rows=SMALL, noise=-1.0)
    with pytest.raises(UserError):
        generate_partnership(tmp_path, rows=SMALL, seed=-1)


def test_rows_split_in_default_proportions(run: Run) -> None:
    assert sum(run.summary.rows.values()) == SMALL
    total = sum(DEFAULT_ROWS.values())
    for feed in FEEDS:
        assert len(run.rows[feed]) == run.summary.rows[feed]
        assert abs(run.summary.rows[feed] - DEFAULT_ROWS[feed] * SMALL / total) <= 1
    manifest = json.loads((run.out / "synth.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 11
    assert manifest["rows"] == SMALL
    assert manifest["rows_per_feed"] == run.summary.rows
    assert manifest["period"] == {"start": "2025-04-01", "end": "2026-03-31"}
    assert manifest["generator_version"]
    incidents = {row["crime_reference"] for row in run.rows["police-sv"]}
    assert 1.4 < len(run.rows["police-sv"]) / len(incidents) < 1.7


def test_default_scale_is_one_partnership_year(tmp_path: Path) -> None:
    seen: dict[str, int] = {}
    summary = generate_partnership(tmp_path, progress=seen.__setitem__)
    assert summary.seed == DEFAULT_SEED
    assert summary.rows == DEFAULT_ROWS
    assert seen == DEFAULT_ROWS
    with summary.files["police-sv"].open(encoding="utf-8", newline="") as handle:
        police = list(csv.DictReader(handle))
    homicides = {
        r["crime_reference"] for r in police if r["offence_type"] in ("Murder", "Manslaughter")
    }
    assert 20 <= len(homicides) <= 25
    incidents = {r["crime_reference"] for r in police}
    assert 42_000 <= len(incidents) <= 48_000


def test_ground_truth_covers_every_row_exactly_once(run: Run) -> None:
    keys = Counter((t["agreement_id"], t["row_number"]) for t in run.truth)
    assert max(keys.values()) == 1
    for feed in FEEDS:
        numbers = sorted(n for a, n in keys if a == feed)
        assert numbers == list(range(1, len(run.rows[feed]) + 1))
    assert {t["person_id"] for t in run.truth} <= run.people.keys()
    assert run.summary.people == len(run.people)


def test_true_identifiers_are_valid_and_unique(run: Run) -> None:
    people = list(run.people.values())
    nhs = [p["nhs_number"] for p in people if p["nhs_number"] is not None]
    upns = [p["upn"] for p in people if p["upn"] is not None]
    pncs = [p["pnc_id"] for p in people if p["pnc_id"] is not None]
    assert nhs and upns and pncs
    assert all(nhs_number_is_valid(n) for n in nhs)
    assert all(upn_is_valid(u) for u in upns)
    for pnc in pncs:
        match = PNC.match(pnc)
        assert match, pnc
        assert pnc_check_letter(match[1][2:], match[2]) == match[3]
    for values in (nhs, upns, pncs):
        assert len(set(values)) == len(values)
    assert all(p["sex"] in ("M", "F") for p in people)
    assert all(p["postcodes"] and all(POSTCODE.match(c) for c in p["postcodes"]) for p in people)
    assert all(dt.date.fromisoformat(p["date_of_birth"]) < dt.date(2025, 4, 1) for p in people)


def test_overlaps_between_feeds(run: Run) -> None:
    per_person = Counter()
    for feed in FEEDS:
        for pid in run.people_of(feed):
            per_person[pid] += 1
    assert sum(1 for n in per_person.values() if n >= 2) > 0.03 * len(per_person)
    assert sum(1 for n in per_person.values() if n == 1) > 0.8 * len(per_person)
    roles: dict[str, Counter[str]] = defaultdict(Counter)
    for row, pid in zip(run.rows["police-sv"], run.person["police-sv"], strict=True):
        roles[pid][row["involvement"]] += 1
    victims = [c["Victim"] for c in roles.values() if c["Victim"]]
    assert 0.08 <= sum(1 for n in victims if n >= 2) / len(victims) <= 0.2
    assert any(c["Victim"] and c["Suspect"] for c in roles.values())
    assert run.people_of("youth-justice") & run.people_of("schools")
    assert run.people_of("youth-justice") & run.people_of("police-sv")
    assert run.people_of("ed-assaults") & run.people_of("police-sv")
    assert run.people_of("ambulance-assaults") & run.people_of("ed-assaults")


def test_ages_fit_each_service(run: Run) -> None:
    def age(born: dt.date, on: dt.date) -> int:
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    for row, person in run.pairs("youth-justice"):
        assert 10 <= age(dt.date.fromisoformat(person["date_of_birth"]), row["outcome_date"]) <= 17
    for row, person in run.pairs("schools"):
        on = dt.date.fromisoformat(row["event_date"])
        assert 5 <= age(dt.date.fromisoformat(person["date_of_birth"]), on) <= 16
        assert dt.date(2025, 4, 1) <= on <= dt.date(2026, 3, 31)
    for row in run.rows["police-sv"]:
        assert row["offence_date"] <= row["recorded_date"] <= "2026-03-31"


def test_geography_and_people_outside_the_area(run: Run) -> None:
    with (run.out / "reference" / "postcode_lsoa.csv").open(encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    postcodes = {r["postcode"] for r in reference}
    lsoas = {r["lsoa_code"] for r in reference}
    assert len({r["local_authority"] for r in reference}) == 5
    assert all(POSTCODE.match(p) for p in postcodes)
    assert {row["lsoa_code"] for row in run.rows["police-sv"]} <= lsoas
    assert {row["incident_lsoa"] for row in run.rows["ambulance-assaults"]} <= lsoas
    victims = [p for r, p in run.pairs("police-sv") if r["involvement"] == "Victim"]
    outside = sum(1 for p in victims if p["postcodes"][-1] not in postcodes)
    assert 0.15 < outside / len(victims) < 0.35


def test_noise_is_visible(run: Run) -> None:
    ed = run.rows["ed-assaults"]
    assert any(r["nhs_number"] == "" for r in ed)
    assert any(re.fullmatch(r"\d{3}[ -]\d{3}[ -]\d{4}", r["nhs_number"]) for r in ed)
    police = run.pairs("police-sv")
    assert any(r["home_postcode"] and not POSTCODE.match(r["home_postcode"]) for r, _ in police)
    assert any(not re.fullmatch(r"\d\d/\d\d/\d{4}", r["date_of_birth"]) for r, _ in police)
    assert any(r["surname"] != p["surname"] for r, p in police)
    assert any(r["pnc_id"] and not PNC.match(r["pnc_id"]) for r, _ in police)
    ambulance = run.rows["ambulance-assaults"]
    assert sum(r["nhs_number"] == "" for r in ambulance) > len(ambulance) / 3


def test_zero_noise_gives_clean_canonical_identifiers(clean: Run) -> None:
    def dob(person: dict[str, Any], fmt: str) -> str:
        return dt.date.fromisoformat(person["date_of_birth"]).strftime(fmt)

    urns: dict[str, set[str]] = defaultdict(set)
    for (row, person), pid in zip(clean.pairs("police-sv"), clean.person["police-sv"], strict=True):
        assert (row["forename"], row["surname"]) == (person["forename"], person["surname"])
        assert row["date_of_birth"] == dob(person, "%d/%m/%Y")
        assert row["sex"] == person["sex"]
        assert row["home_postcode"] in person["postcodes"]
        assert row["pnc_id"] == (person["pnc_id"] or "")
        assert person["forename"] not in row["mo_text"].split()
        urns[pid].add(row["person_urn"])
    assert all(len(u) == 1 for u in urns.values())
    for row, person in clean.pairs("ed-assaults"):
        assert row["nhs_number"] == (person["nhs_number"] or "")
        assert (row["forename"], row["surname"]) == (person["forename"], person["surname"])
        assert row["date_of_birth"] == dob(person, "%Y-%m-%d")
        assert row["sex"] == {"M": "1", "F": "2"}[person["sex"]]
        assert row["postcode"] in person["postcodes"]
    for row, person in clean.pairs("ambulance-assaults"):
        assert row["nhs_number"] == (person["nhs_number"] or "")
        assert row["date_of_birth"] == dob(person, "%d-%m-%Y")
        assert row["patient_surname"] == person["surname"]
    for row, person in clean.pairs("youth-justice"):
        assert row["upn"] == person["upn"]
        assert row["date_of_birth"].isoformat() == person["date_of_birth"]
        assert row["postcode"] in person["postcodes"]
    for row, person in clean.pairs("schools"):
        assert row["upn"] == person["upn"]
        assert row["date_of_birth"] == dob(person, "%d/%m/%Y")
        assert row["postcode"] in person["postcodes"]
