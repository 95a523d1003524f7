"""Incidents, the outbox's first consumer: offline and fault episodes from start to recovery.

- ``charger.offline`` opens an offline episode for the charger (from its last-seen time);
  ``charger.online`` ends it. ``connector.faulted`` opens a fault episode for the connector
  (a new errorCode on a connector already faulted only updates it); ``connector.recovered``
  ends it.
- An episode joins the open incident of its installation and kind that started within
  ``EVENTS_INCIDENT_WINDOW_S`` of it (many chargers offline at once: the site's internet is down,
  one incident listing them); otherwise it opens a new incident. An incident ends when its last
  episode ends.
- ``fuse.overloaded`` opens an overload incident for its fuse (``Incident.circuit``, no
  chargers: one per fuse episode, from when the draw first went over); ``fuse.recovered`` ends
  it. ``balancing.car_not_served`` is no incident: nothing is broken, the site is full.

It runs in the consumer's transaction (``events.consumers.batch``), so each event is applied
exactly once: a batch that fails is rolled back with the cursor and applied again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Max
from django.utils import timezone

from events.choices import EventType, IncidentKind
from events.consumers import consumer
from events.models import Event, Incident, IncidentCharger

MAX_NAMES = 5  # chargers named in an incident's summary


@consumer("incidents")
def apply_events(events: list[Event]) -> None:
    """Apply a batch, in commit order."""
    for event in events:
        handler = HANDLERS.get(event.type)
        if handler is not None and event.charger_id is not None:
            handler(event)
        elif event.type in FUSE_HANDLERS:
            FUSE_HANDLERS[event.type](event)


def _offline(event: Event) -> None:
    last_seen = event.payload.get("last_seen_at")
    started = datetime.fromisoformat(last_seen) if last_seen else event.occurred_at
    _open_episode(event, IncidentKind.OFFLINE, 0, started, "")


def _online(event: Event) -> None:
    _end_episodes(event, IncidentKind.OFFLINE, None)


def _faulted(event: Event) -> None:
    codes = [event.payload.get("error_code", ""), event.payload.get("vendor_error_code", "")]
    detail = " / ".join(code for code in codes if code and code != "NoError") or "Faulted"
    _open_episode(event, IncidentKind.FAULT, event.connector_id, event.occurred_at, detail)


def _recovered(event: Event) -> None:
    _end_episodes(event, IncidentKind.FAULT, event.connector_id)


HANDLERS: dict[str, Callable[[Event], None]] = {
    EventType.CHARGER_OFFLINE: _offline,
    EventType.CHARGER_ONLINE: _online,
    EventType.CONNECTOR_FAULTED: _faulted,
    EventType.CONNECTOR_RECOVERED: _recovered,
}


def _fuse_overloaded(event: Event) -> None:
    circuit_id = event.payload.get("circuit_id")
    if Incident.objects.filter(
        installation_id=event.installation_id,
        kind=IncidentKind.OVERLOAD,
        circuit_id=circuit_id,
        ended_at__isnull=True,
    ).exists():
        return
    since = event.payload.get("since")
    Incident.objects.create(
        installation_id=event.installation_id,
        kind=IncidentKind.OVERLOAD,
        circuit_id=circuit_id,
        started_at=datetime.fromisoformat(since) if since else event.occurred_at,
        summary=_overload_summary(event.payload)[:200],
    )


def _fuse_recovered(event: Event) -> None:
    for incident in Incident.objects.filter(
        installation_id=event.installation_id,
        kind=IncidentKind.OVERLOAD,
        circuit_id=event.payload.get("circuit_id"),
        ended_at__isnull=True,
    ):
        incident.ended_at = max(event.occurred_at, incident.started_at)
        incident.save(update_fields=["ended_at"])


def _overload_summary(payload: dict[str, Any]) -> str:
    """'Main fuse overloaded: L1 68.2 A, L3 64 A (limit 63 A)'."""
    draws = [float(value) for value in payload.get("draw_a") or []]
    limits = [float(value) for value in payload.get("limit_a") or []]
    phases = enumerate(zip(draws, limits, strict=False), start=1)
    over = ", ".join(f"L{phase} {draw:g} A" for phase, (draw, limit) in phases if draw > limit)
    limit_text = "/".join(dict.fromkeys(f"{limit:g}" for limit in limits))
    return f"{payload.get('name') or 'A fuse'} overloaded: {over} (limit {limit_text} A)"


FUSE_HANDLERS: dict[str, Callable[[Event], None]] = {
    EventType.FUSE_OVERLOADED: _fuse_overloaded,
    EventType.FUSE_RECOVERED: _fuse_recovered,
}


def _open_episode(
    event: Event, kind: IncidentKind, connector_id: int, started: datetime, detail: str
) -> None:
    open_members = IncidentCharger.objects.filter(
        charger_id=event.charger_id,
        connector_id=connector_id,
        incident__kind=kind,
        ended_at__isnull=True,
    )
    if open_members.exists():  # the same episode goes on (a fault may change its code)
        if detail:
            open_members.update(detail=detail[:200])
            for incident in Incident.objects.filter(members__in=open_members).distinct():
                _summarize(incident)
        return
    window = timedelta(seconds=settings.EVENTS_INCIDENT_WINDOW_S)
    incident = (
        Incident.objects.filter(
            installation_id=event.installation_id,
            kind=kind,
            ended_at__isnull=True,
            started_at__gte=started - window,
            started_at__lte=started + window,
        )
        .order_by("started_at", "id")
        .first()
    )
    if incident is None:
        incident = Incident.objects.create(
            installation_id=event.installation_id, kind=kind, started_at=started, summary=""
        )
    elif started < incident.started_at:
        incident.started_at = started
        incident.save(update_fields=["started_at"])
    IncidentCharger.objects.create(
        incident=incident,
        charger_id=event.charger_id,
        connector_id=connector_id,
        started_at=started,
        detail=detail[:200],
    )
    _summarize(incident)


def _end_episodes(event: Event, kind: IncidentKind, connector_id: int | None) -> None:
    members = IncidentCharger.objects.filter(
        charger_id=event.charger_id, incident__kind=kind, ended_at__isnull=True
    )
    if connector_id is not None:
        members = members.filter(connector_id=connector_id)
    incident_ids = set(members.values_list("incident_id", flat=True))
    members.update(ended_at=event.occurred_at)
    for incident in Incident.objects.filter(pk__in=incident_ids):
        if not incident.members.filter(ended_at__isnull=True).exists():
            ended = incident.members.aggregate(last=Max("ended_at"))["last"]
            incident.ended_at = max(ended or event.occurred_at, incident.started_at)
            incident.save(update_fields=["ended_at"])


def _summarize(incident: Incident) -> None:
    """'A1 offline', '3 chargers offline: A1, A2, A3', 'A1 connector 1: GroundFailure'."""
    members = list(incident.members.select_related("charger").order_by("started_at", "id"))
    chargers = list(dict.fromkeys(member.charger.name for member in members))
    if incident.kind == IncidentKind.OFFLINE:
        if len(chargers) == 1:
            summary = f"{chargers[0]} offline"
        else:
            names = ", ".join(chargers[:MAX_NAMES]) + ("…" if len(chargers) > MAX_NAMES else "")
            summary = f"{len(chargers)} chargers offline: {names}"
    elif len(members) == 1:
        member = members[0]
        where = f" connector {member.connector_id}" if member.connector_id else ""
        summary = f"{member.charger.name}{where}: {member.detail}"
    else:
        names = ", ".join(chargers[:MAX_NAMES]) + ("…" if len(chargers) > MAX_NAMES else "")
        summary = f"{len(members)} faults: {names}"
    incident.summary = summary[:200]
    incident.save(update_fields=["summary"])


def acknowledge(incident: Incident, user: AbstractBaseUser, note: str | None) -> Incident:
    """Someone has seen the incident: the first acknowledgement names who and when; a note,
    when given, replaces the incident's note."""
    fields = []
    if incident.acknowledged_at is None:
        incident.acknowledged_by = user  # type: ignore[assignment]
        incident.acknowledged_at = timezone.now()
        fields += ["acknowledged_by", "acknowledged_at"]
    if note is not None:
        incident.note = note
        fields.append("note")
    if fields:
        incident.save(update_fields=fields)
    return incident
