"""The code version recorded in manifests: package version plus the git commit when known."""

from __future__ import annotations

import subprocess
from functools import cache

from hub import __version__
from hub.settings import PROJECT_ROOT


@cache
def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - git from PATH by design
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__
