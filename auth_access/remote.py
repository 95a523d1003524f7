"""Starting and stopping charging from the portal or app.

``start_charging(user, charger, connector_id)`` decides with the one decision function (the
user's virtual idTag, with its remote start: source ``remote_start``, or the external authorizer
where the installation has one), records the decision, and on acceptance opens a
``RemoteStart`` (valid ``REMOTE_START_WINDOW``) and sends RemoteStartTransaction with the
virtual idTag through ``commands.routing``. While the remote start is open the charger's
Authorize/StartTransaction with that idTag is accepted, and the session is the user's.

``follow(remote_start, wait_s)`` waits for the charger's answer and stores the outcome;
``may_start(user, charger)`` says whether to offer a start at all.

``stop_charging(user, session)`` sends RemoteStopTransaction for a session in progress: the
user's own, or any session on a charger the user may operate (owners and installers).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from auth_access import checks, reservations
from auth_access.choices import AuthorizationTrigger, RemoteStartStatus
from auth_access.decisions import decide, gather
from auth_access.models import RemoteStart
from auth_access.services import AccessError
from auth_access.virtual_tags import virtual_id_tag
from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from portal.tenancy import Action

if TYPE_CHECKING:
    from datetime import datetime

    from accounts.models import User
    from commands.models import Command

# How long the charger may take to start after the request (the driver plugs in meanwhile;
# chargers give up after their own ConnectionTimeOut, typically 30-120 s).
REMOTE_START_WINDOW = timedelta(minutes=5)
COMMAND_TIMEOUT_S = 30.0


def start_charging(
    user: User, charger: Charger, connector_id: int, *, source: CommandSource = CommandSource.API
) -> RemoteStart:
    """Ask ``charger`` to start charging on ``connector_id`` for ``user``. Raises AccessError
    when the user may not charge there (the refusal is recorded), ValidationError for an unknown
    or busy connector, or one reserved for someone else."""
    if not charger.connectors.filter(connector_id=connector_id).exists():
        raise ValidationError({"connector_id": f"{charger.name} has no connector {connector_id}."})
    busy = ChargeSession.objects.filter(
        charger=charger, connector__connector_id=connector_id, status=SessionStatus.ACTIVE
    )
    if busy.exists():
        raise ValidationError(
            {"connector_id": f"Connector {connector_id} of {charger.name} is already charging."}
        )
    held = reservations.held_for_another(charger, connector_id, user)
    if held is not None:
        until = timezone.localtime(held.expires_at, reservations.local_zone(charger)).strftime(
            "%H:%M"
        )
        whose = " for your card" if held.user_id == user.pk else ""
        raise ValidationError(
            {
                "connector_id": f"Connector {connector_id} of {charger.name} is reserved{whose} "
                f"until {until}."
            }
        )
    id_tag = virtual_id_tag(user.pk)
    check = checks.begin(
        charger.pk,
        id_tag,
        AuthorizationTrigger.REMOTE_START,
        connector_id=connector_id,
        remote_start=True,
    )
    decision = checks.conclude_now(check)
    now = timezone.now()
    remote_start = RemoteStart(
        charger=charger,
        connector_id=connector_id,
        user=user,
        id_tag=id_tag,
        created_at=now,
        expires_at=now + REMOTE_START_WINDOW,
        reason=decision.reason[:200],
    )
    if not decision.accepted:
        remote_start.status = RemoteStartStatus.REFUSED
        remote_start.save()
        raise AccessError(f"You may not charge on {charger.name}: {decision.reason}.")
    with transaction.atomic():
        command = routing.issue_command(
            charger,
            CommandAction.REMOTE_START_TRANSACTION,
            {"connectorId": connector_id, "idTag": id_tag},
            user=user,
            source=source,
            timeout_s=COMMAND_TIMEOUT_S,
        )
        remote_start.command = command
        if command.status == CommandStatus.FAILED:
            remote_start.status = RemoteStartStatus.FAILED
            remote_start.reason = command.error[:200]
        remote_start.save()
    return remote_start


def follow(remote_start: RemoteStart, wait_s: float) -> RemoteStart:
    """Wait up to ``wait_s`` for the charger's answer, then store where the start stands
    (``RemoteStart.refresh_outcome``: accepted, or failed with the charger's reason)."""
    command = remote_start.command
    if command is not None and wait_s > 0 and remote_start.status in RemoteStart.OPEN_STATUSES:
        remote_start.command = routing.wait_for_command(command, wait_s)
    remote_start.refresh_outcome()
    return remote_start


def may_start(user: User, charger: Charger, now: datetime | None = None) -> bool:
    """Would a start from the portal by ``user`` on ``charger`` be accepted by the decision
    function (locally)? For offering the button: ``start_charging`` decides again, asks the
    external authorizer where there is one, and records the decision."""
    now = now or timezone.now()
    facts = gather(charger, virtual_id_tag(user.pk), now, remote_start=True)
    return decide(facts, now).accepted


def stop_charging(
    user: User, session: ChargeSession, *, source: CommandSource = CommandSource.API
) -> Command:
    """Send RemoteStopTransaction for ``session`` (the user's own, or any where they operate)."""
    if session.status != SessionStatus.ACTIVE:
        raise AccessError("This session has already ended.")
    own = session.user_id == user.pk
    operates = Charger.objects.restrict(user, Action.OPERATE).filter(pk=session.charger_id)
    if not own and not operates.exists():
        raise AccessError("You may stop only your own sessions.")
    with transaction.atomic():
        return routing.issue_command(
            session.charger,
            CommandAction.REMOTE_STOP_TRANSACTION,
            {"transactionId": session.pk},
            user=user,
            source=source,
            timeout_s=COMMAND_TIMEOUT_S,
        )
