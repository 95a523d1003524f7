"""Charge modes' records (docs/modes.md).

- ``ChargerMode``: a charger's default mode (no row: Now).
- ``SessionPlan``: a mode for one session, set by its driver or an operator; for By departure
  the departure time, the energy need (Wh, or a target SoC when the charger reports SoC), the
  plan balancing last computed and its status. A plan set while no car is plugged in waits on
  the charger (``session`` empty) and is taken by the session that starts there within
  ``PLAN_CLAIM_MINUTES`` of it being set.
- ``ChargingWindow``: allowed charging hours for Scheduled, per installation or per charger.
- ``SurplusSettings``: an installation's surplus rules and its live surplus reading.
- ``SurplusState``: where a surplus-mode car stands in the start/stop hysteresis, persisted so a
  worker restart does not reset it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from chargers.models import Charger, ChargeSession
from installations.models import Installation
from modes.choices import ChargeMode, DayType, PlanStatus
from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# A plan set on a charger with no car waits this long for the driver's session to start.
PLAN_CLAIM_MINUTES = 30


def _chargers_of_driver(user: AbstractBaseUser) -> Q:
    return Q(charger__in=Charger.objects.filter(Charger.driver_scope(user, Action.VIEW)))


class ChargerMode(TenantModel):
    """A charger's default charge mode; a session's ``SessionPlan`` overrides it."""

    tenancy_path = "charger__installation"

    charger = models.OneToOneField(Charger, on_delete=models.CASCADE, related_name="charge_mode")
    mode = models.CharField(max_length=10, choices=ChargeMode.choices, default=ChargeMode.NOW)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.charger}: {self.get_mode_display()}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        """A driver sees the default mode of the chargers they may charge on."""
        return _chargers_of_driver(user) if action == Action.VIEW else None


class SessionPlan(TenantModel):
    """A session's own mode, and for By departure its need, plan and status.

    ``energy_need_wh`` or ``target_soc_percent`` (one of them) says how much the car needs (the
    energy from ``baseline_energy_wh`` on, the session's energy when the plan was set);
    ``plan`` is the last plan balancing computed (``modes.planner``): a list of
    ``{"start", "end", "current_a"}`` slots from then to the departure; ``cap_a`` and
    ``reason`` are what it asked of balancing at that moment. ``soc_start_percent`` and
    ``soc_start_energy_wh`` are the first SoC reading seen in the session and the energy
    delivered then, from which the battery's size is estimated for a target SoC.
    """

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="session_plans")
    session = models.OneToOneField(
        ChargeSession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="plan",
        help_text="Empty: waiting for the next session on the charger.",
    )
    mode = models.CharField(max_length=10, choices=ChargeMode.choices, default=ChargeMode.DEPARTURE)
    departure_at = models.DateTimeField(null=True, blank=True)
    energy_need_wh = models.PositiveIntegerField("energy need (Wh)", null=True, blank=True)
    target_soc_percent = models.PositiveSmallIntegerField(
        "target state of charge (%)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    baseline_energy_wh = models.BigIntegerField(
        default=0,
        help_text="The session's energy when the plan was set: the need counts from there.",
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(max_length=14, choices=PlanStatus.choices, default=PlanStatus.PENDING)
    plan = models.JSONField(default=list, blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    cap_a = models.FloatField(null=True, blank=True, help_text="The cap asked at planned_at.")
    reason = models.CharField(max_length=200, blank=True)
    delivered_wh = models.BigIntegerField(default=0, help_text="Session energy at planned_at.")
    needed_wh = models.BigIntegerField(
        null=True, blank=True, help_text="Energy still needed at planned_at."
    )
    soc_start_percent = models.FloatField(null=True, blank=True)
    soc_start_energy_wh = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charger"],
                condition=Q(session__isnull=True),
                name="session_plan_one_waiting_per_charger",
            ),
            models.CheckConstraint(
                condition=Q(energy_need_wh__isnull=True) | Q(energy_need_wh__gt=0),
                name="session_plan_need_positive",
            ),
            models.CheckConstraint(
                condition=Q(target_soc_percent__isnull=True)
                | Q(target_soc_percent__gte=1, target_soc_percent__lte=100),
                name="session_plan_soc_percent",
            ),
        ]

    def __str__(self) -> str:
        target = (
            f"session {self.session_id}" if self.session_id else f"next session on {self.charger}"
        )
        return f"{self.get_mode_display()} plan for {target}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        """A driver sees and changes the plans of their own sessions and the ones they set."""
        if action == Action.OPERATE:
            return None
        return Q(session__user=user) | Q(set_by=user)

    def claim_deadline(self) -> datetime:
        """A waiting plan is taken only by a session that starts before this."""
        return self.created_at + timedelta(minutes=PLAN_CLAIM_MINUTES)


class ChargingWindow(TenantModel):
    """Allowed charging hours for the Scheduled mode, in the installation's time zone.

    A window belongs to the day it starts on; an ``end_time`` before ``start_time`` wraps past
    midnight into the next morning (whatever kind of day that is). Windows of a charger replace
    the installation's for that charger; with no window at all, Scheduled is not restricted.
    """

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="charging_windows"
    )
    charger = models.ForeignKey(
        Charger,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="charging_windows",
        help_text="Empty: the installation's hours.",
    )
    day_type = models.CharField(max_length=8, choices=DayType.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["installation_id", "charger_id", "day_type", "start_time", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(start_time=models.F("end_time")), name="charging_window_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_day_type_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        """A driver sees the hours of the installations they are a member of."""
        if action != Action.VIEW:
            return None
        return Q(
            installation__in=Installation.objects.filter(Installation.driver_scope(user, action))
        )


class SurplusSettings(TenantModel):
    """An installation's surplus rules, and its live surplus reading (per phase L1-L3, A).

    A surplus-mode car starts (at its minimum) only after the surplus has covered that minimum
    for ``start_after_minutes``, and stops after it has fallen short for ``stop_after_minutes``.
    The reading is written by a building meter or energy manager and applies until
    ``surplus_valid_until``; no reading in force means no surplus.
    """

    installation = models.OneToOneField(
        Installation, on_delete=models.CASCADE, related_name="surplus_settings"
    )
    start_after_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(240)]
    )
    stop_after_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(240)]
    )
    one_phase_at_low_surplus = models.BooleanField(
        default=False,
        help_text="Chargers that can switch phases charge on one phase when the surplus covers "
        "one phase's minimum but not three.",
    )
    surplus_a = ArrayField(models.FloatField(), size=3, null=True, blank=True)
    surplus_valid_until = models.DateTimeField(null=True, blank=True)
    surplus_reported_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "surplus settings"

    def __str__(self) -> str:
        return f"Surplus settings of {self.installation}"

    def live_surplus_a(self, now: datetime) -> list[float]:
        """The surplus per phase in force at ``now``; zero when none is."""
        if not self.surplus_a or (
            self.surplus_valid_until is not None and self.surplus_valid_until <= now
        ):
            return [0.0, 0.0, 0.0]
        return [max(0.0, float(value)) for value in self.surplus_a]


class SurplusState(TenantModel):
    """A surplus-mode car's place in the start/stop hysteresis (``modes.surplus``).

    ``active``: charging from the surplus. ``enough_since``: a waiting car's minimum has been
    covered since then. ``short_since``: an active car's minimum has not been covered since
    then. Kept per charger and reset when another session starts there.
    """

    tenancy_path = "charger__installation"

    charger = models.OneToOneField(Charger, on_delete=models.CASCADE, related_name="surplus_state")
    session = models.ForeignKey(
        ChargeSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=False)
    one_phase = models.BooleanField(default=False)
    enough_since = models.DateTimeField(null=True, blank=True)
    short_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Surplus state of {self.charger}: {'active' if self.active else 'waiting'}"
