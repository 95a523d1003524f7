"""The command record: what was asked of a charger, by whom, and what it answered."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from commands.choices import CommandAction, CommandSource, CommandStatus
from portal.tenancy import TenantModel

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
        # The table kept its name when the model moved here from ocpp_bridge.
        db_table = "ocpp_bridge_command"
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
