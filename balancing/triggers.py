"""What the bridge tells the live loop: a charger's situation changed, solve its installation soon.

Called (sync) from the bridge's persistence functions on the events the loop cares about: a boot,
a connector's status change (a car plugged in or out, started or stopped drawing), a transaction
starting or stopping, a charger going online or offline. ``tasks.request_balance`` debounces, so a
burst of events gives one solve per installation.
"""

from __future__ import annotations

from collections.abc import Iterable

from balancing.tasks import request_balance
from chargers.models import Charger

# A charger never moves to another installation, so its installation id is cached for the
# process's life (a bridge holds at most tens of thousands of chargers: a small dict).
_installation_of: dict[int, int] = {}


def chargers_changed(charger_ids: Iterable[int], reason: str) -> None:
    """Request a solve of the installations of ``charger_ids`` (one per installation)."""
    ids = set(charger_ids)
    missing = ids - _installation_of.keys()
    if missing:
        _installation_of.update(
            Charger.objects.filter(pk__in=missing).values_list("pk", "installation_id")
        )
    installations = {_installation_of[cid] for cid in ids if cid in _installation_of}
    for installation_id in sorted(installations):
        request_balance(installation_id, reason)


def charger_changed(charger_id: int, reason: str) -> None:
    chargers_changed([charger_id], reason)
