"""Choices of charge modes: the modes, a plan's status, the kinds of day of allowed hours."""

from django.db import models


class ChargeMode(models.TextChoices):
    """How a car wants its current over time (docs/modes.md)."""

    NOW = "now", "Now"
    DEPARTURE = "departure", "By departure"
    SCHEDULED = "scheduled", "Scheduled hours"
    SURPLUS = "surplus", "Solar surplus"


class PlanStatus(models.TextChoices):
    """Where a departure plan stands (recomputed at every balancing solve)."""

    PENDING = "pending", "Waiting for the session"  # set before the car is plugged in
    ON_TRACK = "on_track", "On track"
    BEHIND = "behind", "Behind: catching up"
    CANNOT_BE_MET = "cannot_be_met", "Cannot be met"
    MET = "met", "Met"
    MISSED = "missed", "Missed"


class DayType(models.TextChoices):
    """Which days an allowed-hours window applies on; tariffs' holidays count as weekend."""

    WEEKDAY = "weekday", "Monday to Friday"
    WEEKEND = "weekend", "Saturday, Sunday and holidays"
