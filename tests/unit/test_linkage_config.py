"""The linkage configuration file: defaults, pass order, and one clear line for a broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import UserError
from hub.linkage.config import LINKAGE_FILE, LinkageConfig, load_linkage_config
from hub.settings import PROJECT_ROOT

COLUMNS = [
    "record",
    "tok_key_b",
    "tok_pnc_id",
    "tok_nhs_number",
    "tok_key_a",
    "tok_surname",
    "tok_local_person_id",
]


def _write(folder: Path, text: str) -> Path:
    path = folder / LINKAGE_FILE
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return folder


def test_the_shipped_file_loads() -> None:
    config, digest = load_linkage_config(PROJECT_ROOT / "contracts")
    assert config.probabilistic == LinkageConfig().probabilistic
    assert config.deterministic_passes[-1] == "composite:forename_dob_postcode"
    assert digest is not None and len(digest) == 64


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_linkage_config(tmp_path) == (LinkageConfig(), None)


def test_passes_follow_the_configured_order_and_only_existing_columns() -> None:
    assert LinkageConfig().passes(COLUMNS) == [
        "tok_nhs_number",
        "tok_pnc_id",
        "tok_local_person_id",
        "tok_key_a",
        "tok_key_b",
    ]
    chosen = LinkageConfig(deterministic_passes=("composite:b", "pnc_id", "upn"))
    assert chosen.passes(COLUMNS) == ["tok_key_b", "tok_pnc_id"]


def test_a_changed_file_changes_the_digest(tmp_path: Path) -> None:
    a = load_linkage_config(_write(tmp_path / "a", "probabilistic: {threshold: 0.9}\n"))
    b = load_linkage_config(_write(tmp_path / "b", "probabilistic: {threshold: 0.97}\n"))
    assert a[0].probabilistic.threshold == 0.9 and a[1] != b[1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("probabilistic: {threshold: 1.5}\n", "probabilistic.threshold"),
        ("probabilistic: {dice_levels: [0.7, 0.9]}\n", "highest first"),
        ("deterministic_passes: [nhs_number, nhs_number]\n", "a pass is named twice"),
        ("probabilistic: {treshold: 0.9}\n", "probabilistic.treshold"),
        ("probabilistic: [\n", "not valid YAML at line"),
    ],
)
def test_a_broken_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        load_linkage_config(_write(tmp_path, text))
    assert raised.value.message.startswith("linkage.yaml: ")
    assert "\n" not in raised.value.message
