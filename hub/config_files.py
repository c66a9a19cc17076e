"""Partnership configuration files (YAML under ``contracts/``) read into pydantic models, with
one clear line for a broken file: the file, the place in it and what is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import UserError

Model = TypeVar("Model", bound=BaseModel)


def load_config(path: Path, model: type[Model], *, documented_in: str) -> tuple[Model, str]:
    """``path`` read as ``model``, with the file's SHA-256; ``documented_in`` names where the
    format is explained (for the hint)."""
    raw = path.read_bytes()
    try:
        return model.model_validate(yaml.safe_load(raw)), hashlib.sha256(raw).hexdigest()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        raise UserError(
            f"{path.name}: not valid YAML at {where}", hint="check the indentation and quotes"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "the file"
        raise UserError(
            f"{path.name}: {place}: {first['msg']}", hint=f"see {documented_in} for the format"
        ) from None
