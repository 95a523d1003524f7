"""Commands the node sends: claim a queued one, write the charger's answer."""

from __future__ import annotations

import logging
from typing import Any

from django.db import close_old_connections, transaction
from django.utils import timezone

from auth_access import reservations
from commands.choices import CommandStatus
from commands.models import Command
from commands.outcomes import OUTCOME_EVENTS, emit_unsuccessful
from commands.secrets import mask_configuration
from ocpp_bridge.persistence.records import (
    CommandToSend,
)

logger = logging.getLogger(__name__)


def claim_command(command_id: int) -> CommandToSend | None:
    """Mark a pending command sent (conditional update: only one node sends it) and load it."""
    close_old_connections()
    claimed = Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.SENT, sent_at=timezone.now()
    )
    if not claimed:
        return None
    action, payload, timeout_s, identity = (
        Command.objects.filter(pk=command_id)
        .values_list("action", "payload", "timeout_s", "charger__ocpp_identity")
        .get()
    )
    return CommandToSend(command_id, identity, action, payload or {}, timeout_s)


def finish_command(
    command_id: int, status: CommandStatus, response: Any = None, error: str = ""
) -> None:
    """Record the outcome, unless the command already ended (e.g. expired by the sweep). The
    secret values of a configuration answer are never stored (``commands.secrets``). One that
    did not succeed is an event too (``commands.outcomes``), in the same transaction."""
    close_old_connections()
    with transaction.atomic():
        finished = Command.objects.filter(
            pk=command_id, status__in=[CommandStatus.PENDING, CommandStatus.SENT]
        ).update(
            status=status,
            response=mask_configuration(response),
            error=error[:300],
            completed_at=timezone.now(),
        )
        if finished and status in OUTCOME_EVENTS:
            emit_unsuccessful([command_id])
    if finished:  # a ReserveNow's answer makes its reservation active or rejected
        reservations.record_answer(command_id)
