"""The JSON shape of an event (docs/events.md, "JSON shape"), for every consumer that sends one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.models import Event


def _iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def event_json(event: Event) -> dict[str, Any]:
    """One event as consumers receive it."""
    return {
        "id": event.pk,
        "type": event.type,
        "version": event.version,
        "severity": event.severity,
        "timestamp": _iso(event.occurred_at),
        "recorded_at": _iso(event.recorded_at),
        "installation": event.installation_id,
        "charger": event.charger_id,
        "connector": event.connector_id,
        "data": event.payload,
    }
