"""Charge sessions (OCPP transactions), the meter-value series and signed meter values.

MeterValue is the volume table: append-only, one row per sampled value, written in batches by the
bridge, indexed by (charger, time) and by BRIN on time so it stays cheap at hundreds of millions
of rows; its primary key includes the timestamp so it can be range-partitioned by month later
without changing the model's contract.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

from chargers.choices import SessionStatus, StopReason
from chargers.models.charger import Charger, Connector
from portal.tenancy import Action, TenantModel


class ChargeSession(TenantModel):
    """One OCPP transaction: a car charging on a connector, from StartTransaction to StopTransaction.

    ``id`` is the OCPP transactionId. Times are the charger's own timestamps (a charger that was
    offline replays them later). ``charging_seconds`` counts the time the connector reported
    Charging; ``connected_seconds`` the time from start to stop. ``stop_inferred``: the charger
    never sent its StopTransaction (yet) and the stop values are Fusebox's best evidence.
    """

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="sessions")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="sessions")
    id_tag = models.CharField(max_length=20)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="charge_sessions",
    )
    card = models.ForeignKey(
        "auth_access.ChargeCard",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
    )
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.ACTIVE
    )
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField()
    meter_stop_wh = models.BigIntegerField(null=True, blank=True)
    energy_wh = models.BigIntegerField(
        default=0, help_text="Energy so far (live) or in total (completed)."
    )
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True)
    stop_id_tag = models.CharField(max_length=20, blank=True)
    stop_inferred = models.BooleanField(
        default=False,
        help_text="Closed without a StopTransaction (reboot, car unplugged, charger offline): "
        "end time and meter stop are the last meter value (or the boot or last-seen time). "
        "A StopTransaction that arrives later replaces them and clears this.",
    )
    charging_seconds = models.PositiveIntegerField(default=0)
    charging_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the connector last started Charging, while it still is.",
    )
    reservation_id = models.IntegerField(null=True, blank=True)
    plan_profile_sent = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A departure plan's TxProfile was sent for this transaction: every later limit "
        "carries one (modes.offline), so a stale one never outlives a lower limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # A retried StartTransaction finds the session it already created.
            models.UniqueConstraint(
                fields=["charger", "connector", "id_tag", "started_at", "meter_start_wh"],
                name="start_transaction_idempotent",
            ),
        ]
        indexes = [
            models.Index(fields=["charger", "-started_at"], name="session_charger_time"),
            models.Index(fields=["user", "-started_at"], name="session_user_time"),
            # Newest first across chargers (a history's first pages, keyset cursors).
            models.Index(fields=["-started_at", "-id"], name="session_time"),
            models.Index(fields=["charger"], condition=Q(status="active"), name="session_active"),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} on {self.charger} ({self.energy_wh} Wh)"

    @classmethod
    def driver_scope(cls, user, action: Action) -> Q | None:  # type: ignore[no-untyped-def]
        """A driver sees their own sessions, on any installation."""
        return Q(user=user) if action == Action.VIEW else None

    @property
    def connected_seconds(self) -> int:
        if self.stopped_at is None:
            return 0
        return max(0, int((self.stopped_at - self.started_at).total_seconds()))

    def charging_duration(self) -> timedelta:
        return timedelta(seconds=self.charging_seconds)


class MeterValue(models.Model):
    """One sampled value: a measurand (on a phase) of a connector at a time. Append-only."""

    id = models.BigAutoField(primary_key=True)
    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="+", db_index=False)
    connector_id = models.PositiveSmallIntegerField()
    transaction_id = models.BigIntegerField(null=True, blank=True)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=40)
    phase = models.CharField(max_length=6, blank=True)
    value = models.FloatField()
    unit = models.CharField(max_length=8, blank=True)
    context = models.CharField(max_length=20, blank=True)
    location = models.CharField(max_length=8, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["charger", "timestamp"], name="meter_charger_time"),
            models.Index(
                fields=["transaction_id"],
                condition=Q(transaction_id__isnull=False),
                name="meter_transaction",
            ),
            BrinIndex(fields=["timestamp"], name="meter_time_brin"),
        ]

    def __str__(self) -> str:
        phase = f" {self.phase}" if self.phase else ""
        return f"{self.measurand}{phase} = {self.value} {self.unit} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class SignedMeterValue(TenantModel):
    """A meter value the charger signed (a SampledValue with ``format: SignedData``, e.g. an OCMF
    string), kept verbatim so a driver can check it in transparency software. Written by the
    bridge with its meter values (``ocpp_bridge.meter_buffer``), from MeterValues and from a
    StopTransaction's transactionData; attached to the session whose transactionId it carries
    (or, without one, the session on its connector at its time; a begin value signed or sent
    shortly before its StartTransaction is adopted by the session that follows). Append-only; a value sent
    twice (a retried message, the end value in both MeterValues and StopTransaction) is kept
    once (``digest``)."""

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        ChargeSession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="signed_values",
    )
    connector_id = models.PositiveSmallIntegerField()
    transaction_id = models.BigIntegerField(null=True, blank=True)
    timestamp = models.DateTimeField()
    context = models.CharField(max_length=20, blank=True, help_text="e.g. Transaction.Begin")
    measurand = models.CharField(max_length=40, blank=True)
    signed_data = models.TextField(help_text="As the charger sent it.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of signed_data (hex).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(fields=["charger", "digest"], name="signed_value_once"),
        ]
        indexes = [models.Index(fields=["session", "timestamp"], name="signed_session_time")]

    def __str__(self) -> str:
        return f"Signed {self.context or 'value'} of {self.charger} at {self.timestamp:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def driver_scope(cls, user, action: Action) -> Q | None:  # type: ignore[no-untyped-def]
        """A driver sees the signed values of their own sessions, on any installation."""
        return Q(session__user=user) if action == Action.VIEW else None
