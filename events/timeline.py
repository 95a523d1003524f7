"""A charger's timeline: what it said (connections, boots, statuses, faults and the rest of its
``ChargerEvent`` log), what was asked of it (commands and answers) and its sessions (starts and
stops), in one list, newest first, with filters and a keyset cursor.

Each source is read with the same cursor (time, source, id) and at most one page of rows, and
the rows are merged: a page costs one query per source shown, however long the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet

from chargers.choices import EventKind
from chargers.models import Charger, ChargerEvent, ChargeSession

PAGE_SIZE = 50


class Show(StrEnum):
    """The filters of the timeline (which kinds of entries it shows)."""

    CONNECTIONS = "connections"
    BOOTS = "boots"
    STATUSES = "statuses"
    FAULTS = "faults"
    COMMANDS = "commands"
    SESSIONS = "sessions"
    OTHER = "other"


SHOW_LABELS = {
    Show.CONNECTIONS: "Connections",
    Show.BOOTS: "Boots",
    Show.STATUSES: "Statuses",
    Show.FAULTS: "Faults",
    Show.COMMANDS: "Commands",
    Show.SESSIONS: "Sessions",
    Show.OTHER: "Firmware, diagnostics, data",
}

_EVENT_KINDS = {
    Show.CONNECTIONS: [EventKind.CONNECTED, EventKind.DISCONNECTED],
    Show.BOOTS: [EventKind.BOOT],
    Show.STATUSES: [EventKind.STATUS],
    Show.FAULTS: [EventKind.FAULT],
    Show.OTHER: [EventKind.DATA_TRANSFER, EventKind.DIAGNOSTICS, EventKind.FIRMWARE],
}

# Sources in cursor order (at one instant, a higher rank comes first).
LOG, COMMAND, SESSION_START, SESSION_STOP = 4, 3, 2, 1


@dataclass(frozen=True)
class Sources:
    """The user's restricted querysets (the caller passes them through its tenancy gate)."""

    log: QuerySet[ChargerEvent]
    commands: QuerySet[Any]
    sessions: QuerySet[ChargeSession]


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    rank: int
    pk: int
    kind: str  # a Show value, for the badge
    title: str
    detail: str = ""
    connector_id: int = 0
    link: str = ""

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}|{self.rank}|{self.pk}"


@dataclass(frozen=True)
class Cursor:
    at: datetime
    rank: int
    pk: int

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """A cursor from the page's ``?before=``; None (the first page) when malformed."""
        try:
            at, rank, pk = text.split("|")
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                return None
            return cls(moment, int(rank), int(pk))
        except ValueError:
            return None

    def before(self, time_field: str, rank: int) -> Q:
        """Rows of a source of ``rank`` that come after this cursor (older)."""
        earlier = Q(**{f"{time_field}__lt": self.at})
        if rank < self.rank:
            return earlier | Q(**{time_field: self.at})
        if rank == self.rank:
            return earlier | Q(**{time_field: self.at, "pk__lt": self.pk})
        return earlier


def page(
    charger: Charger,
    shown: set[Show],
    sources: Sources,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> tuple[list[Entry], str | None]:
    """The entries of ``charger`` before ``cursor`` (newest first) and the next page's cursor."""
    entries: list[Entry] = []
    kinds = [kind for show in shown for kind in _EVENT_KINDS.get(show, [])]
    if kinds:
        log = sources.log.filter(charger=charger, kind__in=kinds)
        if cursor:
            log = log.filter(cursor.before("timestamp", LOG))
        for event in log.order_by("-timestamp", "-pk")[: size + 1]:
            entries.append(_log_entry(event))
    if Show.COMMANDS in shown:
        found = sources.commands.filter(charger=charger).select_related("requested_by")
        if cursor:
            found = found.filter(cursor.before("created_at", COMMAND))
        entries += [
            _command_entry(command) for command in found.order_by("-created_at", "-pk")[: size + 1]
        ]
    if Show.SESSIONS in shown:
        sessions = sources.sessions.filter(charger=charger).select_related("user", "connector")
        starts = sessions.filter(cursor.before("started_at", SESSION_START)) if cursor else sessions
        entries += [_start_entry(s) for s in starts.order_by("-started_at", "-pk")[: size + 1]]
        stops = sessions.filter(stopped_at__isnull=False)
        if cursor:
            stops = stops.filter(cursor.before("stopped_at", SESSION_STOP))
        entries += [_stop_entry(s) for s in stops.order_by("-stopped_at", "-pk")[: size + 1]]
    entries.sort(key=lambda e: (e.at, e.rank, e.pk), reverse=True)
    more = len(entries) > size
    entries = entries[:size]
    return entries, (entries[-1].cursor if more and entries else None)


def _log_entry(event: ChargerEvent) -> Entry:
    show = next(show for show, kinds in _EVENT_KINDS.items() if event.kind in kinds)
    return Entry(
        event.timestamp,
        LOG,
        event.pk,
        show,
        event.summary,
        connector_id=event.connector_id,
    )


def _command_entry(command: Any) -> Entry:
    who = command.requested_by.name or command.requested_by.email if command.requested_by else ""
    answer = ""
    if isinstance(command.response, dict) and isinstance(command.response.get("status"), str):
        answer = command.response["status"]
    detail = ", ".join(
        part
        for part in (
            command.get_status_display() + (f" ({answer})" if answer else ""),
            command.error,
            f"by {who}" if who else command.get_source_display(),
        )
        if part
    )
    return Entry(command.created_at, COMMAND, command.pk, Show.COMMANDS, command.action, detail)


def _driver(session: ChargeSession) -> str:
    return (session.user.name or session.user.email) if session.user else "an unknown card"


def _start_entry(session: ChargeSession) -> Entry:
    return Entry(
        session.started_at,
        SESSION_START,
        session.pk,
        Show.SESSIONS,
        f"Session {session.pk} started",
        f"by {_driver(session)}",
        connector_id=session.connector.connector_id,
    )


def _stop_entry(session: ChargeSession) -> Entry:
    assert session.stopped_at is not None
    kwh = session.energy_wh / 1000
    detail = f"{kwh:.2f} kWh, {session.get_stop_reason_display() or 'no reason'}"
    if session.stop_inferred:
        detail += " (inferred: no StopTransaction)"
    return Entry(
        session.stopped_at,
        SESSION_STOP,
        session.pk,
        Show.SESSIONS,
        f"Session {session.pk} stopped",
        detail,
        connector_id=session.connector.connector_id,
    )
