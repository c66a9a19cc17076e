"""The partnership's linkage configuration: ``contracts/linkage/linkage.yaml``.

It names the deterministic passes in order and the probabilistic step's settings (threshold,
name similarity levels, training sample, how often everything is linked again). Without the file
the defaults below apply. Its digest is part of every release id (``hub.publication.release``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.config_files import load_config

LINKAGE_FILE = Path("linkage") / "linkage.yaml"  # under the contracts folder
COMPOSITE = "composite:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbabilisticConfig(_Strict):
    enabled: bool = True
    threshold: float = Field(0.97, gt=0.5, lt=1.0)
    dice_levels: tuple[float, ...] = (0.9, 0.75)
    u_pairs: int = Field(2_000_000, ge=10_000)
    seed: int = 1
    full_relink_days: int = Field(90, ge=0)

    @field_validator("dice_levels")
    @classmethod
    def _descending(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        if not levels or list(levels) != sorted(set(levels), reverse=True):
            raise ValueError("give one or more distinct levels, highest first")
        if not all(0 < level < 1 for level in levels):
            raise ValueError("each level is a Dice similarity between 0 and 1")
        return levels

    def model_digest(self) -> str:
        """What a trained model depends on: a model trained under other settings is not used."""
        return f"dice={','.join(map(str, self.dice_levels))};u={self.u_pairs};seed={self.seed}"


class LinkageConfig(_Strict):
    version: int = 1
    deterministic_passes: tuple[str, ...] = (
        "nhs_number",
        "upn",
        "pnc_id",
        "local_person_id",
        f"{COMPOSITE}*",
    )
    probabilistic: ProbabilisticConfig = ProbabilisticConfig()

    @field_validator("deterministic_passes")
    @classmethod
    def _distinct(cls, passes: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(passes)) != len(passes):
            raise ValueError("a pass is named twice")
        return passes

    def passes(self, columns: list[str]) -> list[str]:
        """The token columns of ``columns`` to link on, in the configured order."""
        chosen: list[str] = []
        for name in self.deterministic_passes:
            if name == f"{COMPOSITE}*":
                found = sorted(c for c in columns if c.startswith("tok_key_"))
            elif name.startswith(COMPOSITE):
                found = [f"tok_key_{name.removeprefix(COMPOSITE)}"]
            else:
                found = [f"tok_{name}"]
            chosen += [c for c in found if c in columns and c not in chosen]
        return chosen


def load_linkage_config(contracts_dir: Path) -> tuple[LinkageConfig, str | None]:
    """The partnership's linkage configuration and the file's SHA-256 (no file: the defaults,
    None)."""
    path = contracts_dir / LINKAGE_FILE
    if not path.is_file():
        return LinkageConfig(), None
    return load_config(path, LinkageConfig, documented_in="docs/linkage.md")
