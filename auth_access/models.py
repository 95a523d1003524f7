"""Per-charger charging permissions (the access-control issue adds cards and decisions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


class ChargeCard(TenantModel):
    """An RFID charge card (OCPP idTag) belonging to a user; unique across the whole system.

    Cards belong to users, not installations: a driver sees their own cards, and owners and
    installers see the cards of their installations' members.
    """

    tenancy_path = ""  # reached through the owner's memberships, see tenant_filter

    id_tag = models.CharField("card number (idTag)", max_length=20, unique=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="charge_cards")
    name = models.CharField(max_length=60, blank=True)
    is_blocked = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "name", "id_tag"]

    def __str__(self) -> str:
        return f"{self.name or self.id_tag} ({self.user})"

    @classmethod
    def tenant_filter(cls, user: AbstractBaseUser, action: Action) -> Q:
        from installations.choices import roles_allowed
        from installations.models import Membership

        managed = Membership.objects.filter(user=user, role__in=roles_allowed(action)).values(
            "installation_id"
        )
        members = Membership.objects.filter(installation_id__in=managed).values("user_id")
        return Q(user=user) | Q(user_id__in=members)

    def save(self, *args: object, **kwargs: object) -> None:
        self.id_tag = self.id_tag.strip().upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]
