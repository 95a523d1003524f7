"""A command that ended without success is an event (``command.rejected``, ``command.failed``,
``command.timed_out``; docs/events.md), written in the transaction that records the outcome."""

from __future__ import annotations

from collections.abc import Collection

from django.utils import timezone

from commands.choices import CommandStatus
from commands.models import Command
from events.choices import EventType
from events.services import Draft, emit_many

OUTCOME_EVENTS = {
    CommandStatus.REJECTED: EventType.COMMAND_REJECTED,
    CommandStatus.FAILED: EventType.COMMAND_FAILED,
    CommandStatus.TIMED_OUT: EventType.COMMAND_TIMED_OUT,
}


def emit_unsuccessful(command_ids: Collection[int]) -> None:
    """The events of those of ``command_ids`` that ended rejected, failed or timed out (one
    query, one insert). ``status`` in the payload is the charger's own answer when it gave one
    (e.g. ``NotSupported``), else the command's status."""
    rows = Command.objects.filter(pk__in=command_ids, status__in=list(OUTCOME_EVENTS)).values_list(
        "pk", "charger_id", "action", "source", "status", "error", "response", "completed_at"
    )
    drafts = []
    for pk, charger_id, action, source, status, error, response, completed_at in rows:
        answered = response.get("status") if isinstance(response, dict) else None
        payload = {
            "command_id": pk,
            "action": action,
            "source": source,
            "status": str(answered if isinstance(answered, str) else status)[:50],
            "error": error,
        }
        event_type = OUTCOME_EVENTS[CommandStatus(status)]
        at = completed_at or timezone.now()
        drafts.append(Draft(event_type, charger_id, occurred_at=at, payload=payload))
    emit_many(drafts)
