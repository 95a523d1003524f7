"""Connectors reserved for a driver (OCPP 1.6 ReserveNow / CancelReservation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from auth_access.choices import ReservationStatus
from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class Reservation(TenantModel):
    """A connector of a charger held for one driver (or, made by the charger's upstream central
    system, for its idTag: ``upstream_host``, ``upstream_reservation_id``) until ``expires_at``.

    The charger gets ReserveNow with ``reservationId`` = this row's id and ``idTag``: a card
    registered for the driver at the installation, or the driver's virtual idTag (they start
    from the portal or app). While it is active the charger reports the connector ``Reserved``
    (no car: balancing gives it nothing) and starts a transaction there only for that idTag. The
    driver's StartTransaction carrying the id marks it ``used``; CancelReservation ends it
    early; a sweep marks it ``expired`` once ``expires_at`` passed (the charger drops it then
    too). The lifecycle and its rules are in ``auth_access.reservations``.
    """

    OPEN_STATUSES = (ReservationStatus.REQUESTED, ReservationStatus.ACTIVE)

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="reservations"
    )
    connector_id = models.PositiveSmallIntegerField(help_text="0: any connector of the charger.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reservations",
        help_text="The driver the connector is held for; none: made by the charger's upstream "
        "central system for its idTag (``upstream_host``).",
    )
    card = models.ForeignKey(
        "auth_access.ChargeCard",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The card whose idTag was sent; none: the driver's virtual idTag.",
    )
    id_tag = models.CharField("idTag", max_length=20)
    parent_id_tag = models.CharField(
        "parentIdTag", max_length=20, blank=True, help_text="Upstream's, when it sent one."
    )
    upstream_host = models.CharField(
        max_length=255,
        blank=True,
        help_text="Made by the upstream central system at this host (its ReserveNow); empty: "
        "made in Fusebox.",
    )
    upstream_reservation_id = models.IntegerField(
        null=True, blank=True, help_text="Upstream's reservationId (the charger gets this id)."
    )
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.REQUESTED
    )
    charger_answer = models.CharField(
        max_length=12, blank=True, help_text="The charger's ReserveNow status, when it answered."
    )
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reserve_command = models.ForeignKey(
        "commands.Command", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_command = models.ForeignKey(
        "commands.Command", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    session = models.ForeignKey(
        "chargers.ChargeSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The session that used the reservation.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["charger", "-created_at"], name="reservation_charger_time"),
            models.Index(fields=["user", "-created_at"], name="reservation_user_time"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["requested", "active"]),
                name="reservation_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="reservation_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        where = "any connector" if self.connector_id == 0 else f"#{self.connector_id}"
        return f"Reservation {self.pk} of {self.charger} {where} for {self.holder}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        return Q(user=user) if action == Action.VIEW else None

    @property
    def by_upstream(self) -> bool:
        """Made by the charger's upstream central system (no Fusebox driver)."""
        return bool(self.upstream_host)

    @property
    def holder(self) -> str:
        """Who the connector is held for, in words: the driver, or upstream's idTag."""
        if self.user is not None:
            return self.user.name or self.user.email
        return f"idTag {self.id_tag} (upstream)"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def connector_label(self) -> str:
        return "Any connector" if self.connector_id == 0 else f"Connector {self.connector_id}"
