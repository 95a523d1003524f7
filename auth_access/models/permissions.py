"""Per-charger charging permissions (the installation-wide one is ``Membership.may_charge_everywhere``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class ChargerPermission(TenantModel):
    """A member may charge on this charger (for members not allowed on the whole installation)."""

    tenancy_path = "charger__installation"

    membership = models.ForeignKey(
        "installations.Membership", on_delete=models.CASCADE, related_name="charger_permissions"
    )
    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="permissions"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["charger_id", "membership_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "charger"], name="one_permission_per_member_and_charger"
            )
        ]

    def __str__(self) -> str:
        return f"{self.membership.user} may charge on {self.charger}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        return Q(membership__user=user) if action == Action.VIEW else None

    def clean(self) -> None:
        if (
            self.membership_id
            and self.charger_id
            and self.membership.installation_id != self.charger.installation_id
        ):
            raise ValidationError(
                {"charger": "The charger belongs to another installation than the membership."}
            )
