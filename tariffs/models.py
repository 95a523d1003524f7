"""Time-varying prices of an installation (docs/tariffs.md).

- ``Tariff``: a time-of-use tariff in force from ``effective_from`` until the next tariff of the
  installation begins; its ``TariffBand`` rows give a price per kWh by local time of day, for
  weekdays and for weekends and holidays. Append-only once it has begun, as ``PricePeriod``.
- ``DayAheadPrice``: a price for one interval ``[start, end)`` (an hour or a quarter, from a market
  feed, posted through the API); it overrides the tariff where it covers.
- ``Holiday``: a local date that counts as a weekend day (tariff bands, charge modes' hours).

``tariffs.prices.price_slots`` reads them all; the flat ``PricePeriod`` fills what they leave.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from portal.tenancy import Action, TenantModel
from reporting.models import validate_currency
from tariffs import bands
from tariffs.choices import DayType


def _members(user: Any, action: Action, path: str = "installation") -> Q | None:
    """A member of an installation (a driver too) may see its prices and holidays."""
    if action != Action.VIEW:
        return None
    from installations.models import Membership

    return Q(**{f"{path}__in": Membership.objects.filter(user=user).values("installation_id")})


class TariffHistoryError(ValidationError):
    """A change that would rewrite the price history (a tariff that has already begun)."""


class Holiday(TenantModel):
    """A local date of the installation that counts as a weekend day."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["installation_id", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "date"], name="one_holiday_per_installation_and_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        return _members(user, action)


class Tariff(TenantModel):
    """A time-of-use tariff: its bands' prices apply from ``effective_from`` until the next
    tariff of the installation begins. Append-only once it has begun."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="tariffs"
    )
    name = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    effective_from = models.DateTimeField(help_text="When this tariff starts to apply.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["installation_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "effective_from"],
                name="one_tariff_per_installation_and_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Tariff {self.name or self.pk} from {self.effective_from:%Y-%m-%d %H:%M}"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        return _members(user, action)

    def has_begun(self, now: datetime | None = None) -> bool:
        return self.effective_from <= (now or timezone.now())

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.has_begun():
            raise TariffHistoryError("A tariff that has begun is history; it cannot be deleted.")
        return super().delete(*args, **kwargs)


class TariffBand(TenantModel):
    """A price per kWh from ``start_time`` to ``end_time`` (local time) on the tariff's days of
    ``day_type``. An end at or before the start wraps past midnight (22:00-07:00); an end equal
    to the start is the whole day. Bands of one day type never overlap; a gap is priced at the
    flat price in force."""

    tenancy_path = "tariff__installation"

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="bands")
    day_type = models.CharField(max_length=7, choices=DayType.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    price_per_kwh = models.DecimalField(
        max_digits=8, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )

    class Meta:
        ordering = ["tariff_id", "day_type", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_per_kwh__gte=0), name="tariff_band_price_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day_type} {self.start_time:%H:%M}-{self.end_time:%H:%M} {self.price_per_kwh}"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        return _members(user, action, "tariff__installation")

    def covers(self, moment: time) -> bool:
        """Whether the band holds local time ``moment`` (on a day of its type)."""
        return bands.covers(self.start_time, self.end_time, moment)


class DayAheadPrice(TenantModel):
    """A price per kWh for ``[start, end)`` (instants), posted through the API from a market
    feed; it overrides the tariff where it covers. May be negative (markets pay for consumption
    at times); never overlaps another of the installation (``services.post_day_ahead``)."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="day_ahead_prices"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["installation_id", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "start"], name="one_day_ahead_price_per_start"
            ),
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="day_ahead_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["installation", "end"], name="day_ahead_lookup")]

    def __str__(self) -> str:
        return f"{self.price_per_kwh} {self.currency}/kWh [{self.start}, {self.end})"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        return _members(user, action)


class SessionCost(TenantModel):
    """A finished session priced slot by slot (docs/tariffs.md "Cost"): its energy in each price
    slot (an hour, or less where the price changes) times that slot's price, written once when
    it has ended (``tariffs.costing``) so a later price change never rewrites it.

    ``cost`` null: the session keeps the rule of a flat price (its energy times the price in
    force when it ended): every slot was priced by the flat price, or its slots have prices in
    more than one currency. Reports and the daily rollup read ``cost`` and ``currency`` in place
    of that rule when it is set (``reporting.queries.facts_of``, the rollup's triggers)."""

    tenancy_path = "session__charger__installation"

    session = models.OneToOneField(
        "chargers.ChargeSession",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="priced_cost",
    )
    cost = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    price_per_kwh = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="The session's average price: its cost over its energy.",
    )
    energy_wh = models.BigIntegerField(help_text="The session's energy when it was priced.")
    stopped_at = models.DateTimeField(help_text="The session's end when it was priced.")
    slots = models.JSONField(
        default=list,
        help_text="[{start, end, energy_wh, price_per_kwh, currency, source, cost}] in time order.",
    )
    priced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-session_id"]

    def __str__(self) -> str:
        return f"{self.cost} {self.currency} for session {self.session_id}"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        """A driver sees the cost of their own sessions (as the sessions)."""
        return Q(session__user=user) if action == Action.VIEW else None
