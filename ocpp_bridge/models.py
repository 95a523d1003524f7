"""What the bridge records besides charger reports: commands sent to chargers, refused connections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from ocpp_bridge.choices import AttemptReason, CommandAction, CommandSource, CommandStatus
from portal.tenancy import Action, TenantModel, TenantQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Statuses after which a command will not change again.
FINAL_STATUSES = [
    CommandStatus.ACCEPTED,
    CommandStatus.REJECTED,
    CommandStatus.FAILED,
    CommandStatus.TIMED_OUT,
    CommandStatus.REFUSED,
]


class Command(TenantModel):
    """A request to a charger: who asked, when, what, and what the charger answered."""

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="commands"
    )
    action = models.CharField(max_length=32, choices=CommandAction.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    source = models.CharField(
        max_length=8, choices=CommandSource.choices, default=CommandSource.API
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    timeout_s = models.FloatField(default=30)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["charger", "-created_at"], name="command_charger_time"),
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "sent"]),
                name="command_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} to {self.charger} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class ConnectionAttempt(models.Model):
    """A refused websocket upgrade, folded per identity and reason, so installers can claim new chargers.

    Not tied to an installation: an unknown identity belongs to nobody yet. Who sees what is
    ``tenant_filter``: unknown identities to anyone who installs or owns an installation (so they
    can claim a charger that tried to connect), wrong passwords only to those who run the charger.
    """

    identity = models.CharField(max_length=100)
    reason = models.CharField(max_length=20, choices=AttemptReason.choices)
    remote_address = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["identity", "reason"], name="attempt_per_identity_and_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.identity}: {self.get_reason_display()} x{self.attempts}"

    @classmethod
    def tenant_filter(cls, user: AbstractBaseUser, action: Action) -> Q:
        from chargers.models import Charger
        from installations.choices import roles_allowed
        from installations.models import Membership

        roles = roles_allowed(Action.ADMINISTER)
        if not Membership.objects.filter(user=user, role__in=roles).exists():
            return Q(pk__in=[])
        own_identities = Charger.objects.restrict(user, Action.ADMINISTER).values("ocpp_identity")
        return Q(reason=AttemptReason.UNKNOWN_IDENTITY) | Q(identity__in=own_identities)
