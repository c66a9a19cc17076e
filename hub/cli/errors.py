"""Mapping errors to one clear line, a hint and an exit code at the command-line edge."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from hub.errors import HubError

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True, highlight=False)
log = logging.getLogger("hub.cli")


def frames_only(exc: BaseException) -> str:
    """A traceback without the exception's message (messages of third-party errors may quote
    data), for the log file."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{frames}{type(exc).__module__}.{type(exc).__qualname__}"


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except HubError as exc:
            err.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err.print(f"[dim]hint:[/] {exc.hint}")
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.error("unexpected error\n%s", frames_only(exc))
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__} (details without data "
                "values are in the hub log)"
            )
            err.print("[dim]hint:[/] this is a bug in the hub; please report it with the log file")
            raise typer.Exit(70) from None

    return wrapper
