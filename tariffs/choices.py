"""Choices of tariffs: which days a band applies on, where a slot's price comes from."""

from __future__ import annotations

from django.db import models


class DayType(models.TextChoices):
    """A tariff band's days. A holiday (``Holiday``) counts as a weekend day."""

    WEEKDAY = "weekday", "Weekdays"
    WEEKEND = "weekend", "Weekends and holidays"


class PriceSource(models.TextChoices):
    """Where the price of a slot comes from, strongest first."""

    DAY_AHEAD = "day_ahead", "Day-ahead price"
    TARIFF = "tariff", "Tariff band"
    FLAT = "flat", "Flat price"
