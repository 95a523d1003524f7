"""What access control did: every decision, and the starts requested from the portal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone

from auth_access.choices import (
    AuthorizationStatus,
    AuthorizationTrigger,
    DecisionSource,
    RemoteStartStatus,
)
from commands.choices import CommandStatus
from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser


class AuthorizationRecord(TenantModel):
    """One authorization decision: who (idTag, card, user), where, what, why, by whom, how fast.

    A volume table (one row per Authorize/StartTransaction/StopTransaction/remote start): append
    only, the installation stored on the row so the tenancy filter needs no join, indexed by
    installation, charger and user with time, BRIN on time.
    """

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="+"
    )
    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="authorization_records"
    )
    connector_id = models.PositiveSmallIntegerField(null=True, blank=True)
    id_tag = models.CharField("idTag", max_length=20)
    card = models.ForeignKey(
        "auth_access.ChargeCard", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authorization_records",
    )
    trigger = models.CharField(max_length=12, choices=AuthorizationTrigger.choices)
    status = models.CharField(max_length=12, choices=AuthorizationStatus.choices)
    reason = models.CharField(max_length=200)
    source = models.CharField(max_length=12, choices=DecisionSource.choices)
    latency_ms = models.FloatField(help_text="Time to decide, the external authorizer included.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installation", "-created_at"], name="authrecord_site_time"),
            models.Index(fields=["charger", "-created_at"], name="authrecord_charger_time"),
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(user__isnull=False),
                name="authrecord_user_time",
            ),
            BrinIndex(fields=["created_at"], name="authrecord_time_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.id_tag} at {self.charger_id}: {self.status} ({self.source})"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        return Q(user=user) if action == Action.VIEW else None

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


COMMAND_FAILURES = {
    CommandStatus.REJECTED: "The charger rejected the start.",
    CommandStatus.TIMED_OUT: "The charger did not answer.",
}


@dataclass(frozen=True)
class StartOutcome:
    """Where a remote start stands: its status and, when it did not start, why."""

    status: RemoteStartStatus
    reason: str

    @property
    def final(self) -> bool:
        return self.status not in RemoteStart.OPEN_STATUSES


class RemoteStart(TenantModel):
    """A start requested from the portal or app: RemoteStartTransaction with the user's virtual
    idTag. While open (``expires_at``), the charger's Authorize/StartTransaction with that idTag
    is accepted for this user on this charger, and the session it starts is theirs.

    Its lifecycle is in one place: ``outcome(now)`` reads it from the row, the command's answer
    and the clock; ``refresh_outcome()`` stores it (the API, the charging panel and the access
    sweep call it). ``requested`` -> ``accepted`` (the charger took the command) -> ``started``
    (the session began, ``checks.link_remote_start``); or ``refused`` (Fusebox said no),
    ``failed`` (the charger rejected, failed or timed out), ``expired`` (no session in the window).
    """

    OPEN_STATUSES = (RemoteStartStatus.REQUESTED, RemoteStartStatus.ACCEPTED)

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="remote_starts"
    )
    connector_id = models.PositiveSmallIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="remote_starts"
    )
    id_tag = models.CharField("virtual idTag", max_length=20)
    status = models.CharField(
        max_length=10, choices=RemoteStartStatus.choices, default=RemoteStartStatus.REQUESTED
    )
    reason = models.CharField(max_length=200, blank=True)
    command = models.ForeignKey(
        "commands.Command", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    session = models.ForeignKey(
        "chargers.ChargeSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["charger", "user", "-expires_at"], name="remotestart_open"),
            models.Index(fields=["user", "-created_at"], name="remotestart_user_time"),
        ]

    def __str__(self) -> str:
        return f"Remote start by {self.user} on {self.charger} #{self.connector_id}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        return Q(user=user) if action == Action.VIEW else None

    def outcome(self, now: datetime) -> StartOutcome:
        """The status as it stands at ``now`` (reads ``command``; writes nothing)."""
        status = RemoteStartStatus(self.status)
        if status not in self.OPEN_STATUSES:
            return StartOutcome(status, self.reason)
        command = self.command
        if command is not None and command.is_final:
            if command.status != CommandStatus.ACCEPTED:
                why = command.error or COMMAND_FAILURES.get(command.status, "The command failed.")
                return StartOutcome(RemoteStartStatus.FAILED, why)
            status = RemoteStartStatus.ACCEPTED
        if self.expires_at <= now:
            if status == RemoteStartStatus.ACCEPTED:
                return StartOutcome(RemoteStartStatus.EXPIRED, "No car was plugged in in time.")
            return StartOutcome(RemoteStartStatus.EXPIRED, "The charger did not answer in time.")
        return StartOutcome(status, self.reason)

    def refresh_outcome(self, now: datetime | None = None) -> StartOutcome:
        """Store ``outcome()`` when it moved on (a conditional UPDATE: a session linked
        meanwhile wins); returns where the start stands."""
        found = self.outcome(now or timezone.now())
        if found.status == self.status:
            return found
        moved = RemoteStart.objects.filter(pk=self.pk, status=self.status).update(
            status=found.status, reason=found.reason[:200]
        )
        if moved:
            self.status, self.reason = found.status, found.reason[:200]
            return found
        self.refresh_from_db(fields=["status", "reason", "session"])
        return StartOutcome(RemoteStartStatus(self.status), self.reason)
