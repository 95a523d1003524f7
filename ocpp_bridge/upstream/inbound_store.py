"""The database side of upstream's calls (sync; the bridge runs them on its threads with
``bridge.db``): a Command row for each call executed on the charger, its outcome, the charger's
connectors, upstream's transaction id mapped to Fusebox's, the charging profiles kept as caps
(``upstream.caps``), and upstream's reservations (``auth_access.reservations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import close_old_connections, transaction

from auth_access import reservations
from balancing.triggers import charger_changed
from chargers.choices import SessionStatus
from chargers.models import Connector
from commands.choices import CommandSource
from commands.models import Command
from upstream import caps
from upstream.models import UpstreamTransaction

COMMAND_TIMEOUT_S = 20.0  # the charger's answer, within what upstream usually waits (30 s)


@dataclass(frozen=True)
class Outcome:
    status: str
    response: Any
    error: str


def create_command(charger_id: int, action: str, payload: dict[str, Any]) -> int:
    """A pending Command (source "upstream") that this node's CommandRunner executes."""
    close_old_connections()
    command = Command.objects.create(
        charger_id=charger_id,
        action=action,
        payload=payload,
        source=CommandSource.UPSTREAM,
        timeout_s=COMMAND_TIMEOUT_S,
    )
    return command.pk


def outcome(command_id: int) -> Outcome:
    """How the command ended (the response as stored: a configuration's secrets masked)."""
    close_old_connections()
    status, response, error = Command.objects.values_list("status", "response", "error").get(
        pk=command_id
    )
    return Outcome(status, response, error)


def connector_ids(charger_id: int) -> set[int]:
    close_old_connections()
    return set(
        Connector.objects.filter(charger_id=charger_id).values_list("connector_id", flat=True)
    )


def fusebox_transaction(charger_id: int, upstream_transaction_id: int) -> int | None:
    """Fusebox's transaction id (the session's) of upstream's id, while that session runs."""
    if not caps.INT32_MIN <= upstream_transaction_id <= caps.INT32_MAX:
        return None  # no transaction has that id
    close_old_connections()
    return (
        UpstreamTransaction.objects.filter(
            charger_id=charger_id,
            upstream_transaction_id=upstream_transaction_id,
            session__status=SessionStatus.ACTIVE,
        )
        .values_list("session_id", flat=True)
        .first()
    )


def store_cap(
    charger_id: int, connector_id: int, profile: dict[str, Any], remote_start: bool = False
) -> bool:
    """Keep upstream's profile as a cap and ask for a solve; False when a charge point would
    reject it."""
    close_old_connections()
    try:
        with transaction.atomic():  # the solve is requested on commit
            caps.store(charger_id, connector_id, profile, remote_start=remote_start)
            charger_changed(charger_id, "upstream charging profile")
    except caps.CapRejected:
        return False
    return True


def clear_caps(charger_id: int, **criteria: Any) -> int:
    """Remove the matching caps (and ask for a solve if any went); how many went."""
    close_old_connections()
    with transaction.atomic():
        cleared = caps.clear(charger_id, **criteria)
        if cleared:
            charger_changed(charger_id, "upstream charging profile cleared")
    return cleared


def reserve(
    charger_id: int,
    connector_id: int,
    id_tag: str,
    parent_id_tag: str,
    expires_at: datetime,
    upstream_id: int,
    upstream_host: str,
) -> tuple[int | None, str]:
    """Upstream's ReserveNow as a Fusebox reservation (``reservations.reserve_for_upstream``)."""
    close_old_connections()
    return reservations.reserve_for_upstream(
        charger_id, connector_id, id_tag, parent_id_tag, expires_at, upstream_id, upstream_host
    )


def cancel_reservation(charger_id: int, upstream_id: int) -> int | None:
    """Upstream's CancelReservation (``reservations.cancel_for_upstream``)."""
    close_old_connections()
    return reservations.cancel_for_upstream(charger_id, upstream_id)
