"""The event outbox (``Event``), the consumers' cursors (``ConsumerCursor``), and the first
consumer's record: incidents (``Incident``, ``IncidentCharger``).

An ``Event`` is written in the same transaction as the change it tells of (``events.emit``), so
it exists exactly when the change does. Consumers (incidents, and later e-mail alerts, webhooks,
the live stream) read it in commit order through their own durable cursor
(``events.consumers``); ``docs/events.md`` is the contract.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from chargers.models import Charger, ChargeSession
from events.choices import EventType, IncidentKind, Severity
from installations.models import Circuit, Installation
from portal.tenancy import Action, TenantModel


class CurrentTransactionId(models.Func):
    """The writing transaction's id (``pg_current_xact_id()``, 64 bits with the epoch, so it
    never wraps), as a bigint. Consumers read an event only once every transaction below
    ``pg_snapshot_xmin`` has ended (see ``events.consumers``)."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class Event(TenantModel):
    """A domain event: what happened (``type`` from ``events.catalogue``), where, when, how bad.

    ``occurred_at`` is the charger's own time when it gave one; ``recorded_at`` the commit's
    transaction time. ``payload`` holds the type's fields (small, no personal data beyond ids).
    ``xid`` is the transaction that wrote it: ids from a sequence commit out of order, so
    consumers order by (xid, id) and read only finished transactions.

    Tenancy: owners and installers see their installations' events; a driver sees only the
    events of their own sessions (``session``), never a charger's faults or another driver's
    sessions."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=40, choices=EventType.choices)
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="domain_events"
    )
    charger = models.ForeignKey(
        Charger, on_delete=models.SET_NULL, null=True, blank=True, related_name="domain_events"
    )
    connector_id = models.PositiveSmallIntegerField(default=0, help_text="0: the charger itself.")
    session = models.ForeignKey(
        ChargeSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(db_default=Now())
    severity = models.CharField(max_length=8, choices=Severity.choices)
    payload = models.JSONField(default=dict, blank=True)
    version = models.PositiveSmallIntegerField(default=1)
    xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["xid", "id"], name="outbox_commit_order"),
            models.Index(fields=["installation", "-occurred_at"], name="outbox_installation_time"),
            models.Index(fields=["charger", "-occurred_at"], name="outbox_charger_time"),
            BrinIndex(fields=["recorded_at"], name="outbox_recorded_brin"),
            # A connect asks whether the charger's last offline/online event says offline
            # (events.health): a small index, not every connect and disconnect of its history.
            models.Index(
                fields=["charger", "-occurred_at", "-id"],
                condition=Q(type__in=["charger.offline", "charger.online"]),
                name="outbox_presence_episodes",
            ),
            # A new connection asks for the charger's open charger-level fault
            # (events.health.open_charger_faults): connector 0's faults and recoveries only.
            models.Index(
                fields=["charger", "-occurred_at", "-id"],
                condition=Q(type__in=["connector.faulted", "connector.recovered"], connector_id=0),
                name="outbox_charger_faults",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @classmethod
    def driver_scope(cls, user, action: Action) -> Q | None:  # type: ignore[no-untyped-def]
        """A driver sees the events of their own sessions, on any installation."""
        return Q(session__user=user) if action == Action.VIEW else None


class ConsumerCursor(models.Model):
    """How far one consumer has read the outbox: the (xid, id) of the last event it finished.
    Advanced in the same transaction as the consumer's own writes (``events.consumers``)."""

    name = models.CharField(max_length=64, primary_key=True)
    xid = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at ({self.xid}, {self.event_id})"


class Incident(TenantModel):
    """An offline or fault episode, from its first event to the recovery of every charger in it
    (``events.incidents``, the outbox's first consumer). Chargers of one installation that go
    offline (or fault) within ``EVENTS_INCIDENT_WINDOW_S`` of its start join it: a site whose
    internet is down is one incident listing its chargers. An overload is one fuse's episode
    (``circuit``, no chargers), from ``fuse.overloaded`` to ``fuse.recovered``. Drivers see no
    incidents."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="incidents"
    )
    kind = models.CharField(max_length=8, choices=IncidentKind.choices)
    circuit = models.ForeignKey(
        Circuit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The overloaded fuse (overload incidents only).",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    summary = models.CharField(max_length=200)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["installation", "-started_at"], name="incident_installation_time"),
            models.Index(
                fields=["installation", "kind"],
                condition=Q(ended_at__isnull=True),
                name="incident_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.installation}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @property
    def duration(self) -> timedelta | None:
        """From start to recovery; None while open."""
        return None if self.ended_at is None else self.ended_at - self.started_at


class IncidentCharger(TenantModel):
    """One charger (or one connector, for a fault) in an incident, with its own episode."""

    tenancy_path = "incident__installation"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="members")
    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="incidents")
    connector_id = models.PositiveSmallIntegerField(default=0, help_text="0: the charger itself.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True, help_text="e.g. the fault's errorCode")

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # One open episode per charger, connector and kind (the kind is the incident's).
            models.UniqueConstraint(
                fields=["incident", "charger", "connector_id"],
                condition=Q(ended_at__isnull=True),
                name="incident_member_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.charger} in {self.incident_id}"
