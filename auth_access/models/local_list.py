"""What each charger's Local Authorization List holds, as far as Fusebox knows."""

from __future__ import annotations

from django.db import models

from auth_access.choices import LocalListStatus
from portal.tenancy import TenantModel


class LocalListState(TenantModel):
    """The list version a charger confirmed and its entries, so the next update is a difference.

    ``entries`` maps idTag -> expiry (ISO-8601, or null). ``status`` UNKNOWN means the charger's
    list may differ from ``entries`` (never sent, an update failed or timed out, a version
    mismatch): the next update is a Full one. ``configuration`` keeps what became of each
    authorization setting at the last boot: the charger's answer to its ChangeConfiguration, or
    why none was sent (``local_list.SettingOutcome``).
    """

    tenancy_path = "charger__installation"

    charger = models.OneToOneField(
        "chargers.Charger", on_delete=models.CASCADE, related_name="local_list"
    )
    version = models.PositiveIntegerField(default=0, help_text="Last version the charger took.")
    sent_version = models.PositiveIntegerField(
        default=0, help_text="Last version sent, taken or not: the next one is higher."
    )
    entries = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=14, choices=LocalListStatus.choices, default=LocalListStatus.UNKNOWN
    )
    charger_version = models.IntegerField(
        null=True, blank=True, help_text="What GetLocalListVersion last answered."
    )
    last_error = models.CharField(max_length=300, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    configured_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charger_id"]

    def __str__(self) -> str:
        return f"Local list of {self.charger_id}: v{self.version} ({self.status})"

    @property
    def size(self) -> int:
        return len(self.entries)
