"""What happened to a charger: connections, boots, status changes, faults, notifications."""

from __future__ import annotations

from django.db import models

from chargers.choices import EventKind
from chargers.models.charger import Charger
from portal.tenancy import TenantModel


class ChargerEvent(TenantModel):
    """An event reported by or about a charger, at the charger's own timestamp when it gave one."""

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="events")
    connector_id = models.PositiveSmallIntegerField(default=0, help_text="0: the charger itself.")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    timestamp = models.DateTimeField()
    summary = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["charger", "-timestamp"], name="event_charger_time")]

    def __str__(self) -> str:
        return f"{self.charger}: {self.summary}"
