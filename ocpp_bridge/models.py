"""What the bridge records besides charger reports: refused connections. (Commands: `commands.models`.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from ocpp_bridge.choices import AttemptReason
from portal.tenancy import Action, TenantQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


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
