"""``hub deliveries``: which partner feeds are received, due or late."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

STYLE = {"late": "bold red", "due": "yellow", "received": "green", "not_in_force": "dim"}


@handle_errors
def deliveries(
    partner: Annotated[str | None, typer.Option(help="Only this provider's feeds")] = None,
    fail_on_late: Annotated[
        bool, typer.Option("--fail-on-late", help="Exit 1 when a feed is late (for monitoring)")
    ] = False,
) -> None:
    """List every feed with its state: received, due (within the agreed lateness) or late."""
    from hub.agreements.loader import load_agreements_leniently
    from hub.agreements.registry import AgreementRegistry
    from hub.ingestion.deliveries import DeliveryState
    from hub.ingestion.deliveries import deliveries as feed_states

    s = settings()
    agreements, _ = load_agreements_leniently(s.contracts_dir)
    found = feed_states(agreements.values(), AgreementRegistry.open(s, store(s)), provider=partner)
    for d in found:
        style = STYLE[d.state.value]
        out.print(
            f"[{style}]{d.state.value:<12}[/] {d.agreement_id:<20} from {d.provider}: {d.reason}",
            soft_wrap=True,
        )
    late = sum(1 for d in found if d.state is DeliveryState.LATE)
    out.print(f"{len(found)} feed(s), {late} late")
    if fail_on_late and late:
        raise typer.Exit(1)
