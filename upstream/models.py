"""The upstream bridge's records.

- ``UpstreamSettings``: how an installation's chargers are presented to a third-party central
  system, and what it may do. One row per installation (``charger`` empty) is the default; a row
  for one charger replaces it for that charger (``effective_settings``).
- ``UpstreamLink``: one per bridged charger, the link's status as the bridge process last saw it.
- ``UpstreamMessage``: the durable queue of transaction messages (Start/StopTransaction and
  transaction MeterValues), written in the transaction that records what the charger said, and
  delivered in order when upstream is reachable (OCPP 1.6 4.7). It survives a bridge restart.
- ``UpstreamTransaction``: Fusebox's transaction (a ``ChargeSession``) and the id upstream gave
  it in its StartTransaction answer.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from chargers.models import Charger, ChargeSession
from installations.models import Installation
from portal.tenancy import TenantModel
from upstream.choices import (
    DEFAULT_COMMANDS,
    ChargerDown,
    LinkState,
    OfflineAuthorization,
    QueuedAction,
    SecurityProfile,
    UpstreamAuthorization,
)

IDENTITY_PLACEHOLDER = "{identity}"


def default_commands() -> list[str]:
    return list(DEFAULT_COMMANDS)


class UpstreamSettings(TenantModel):
    """An installation's (or one charger's) upstream central system and what it may do.

    ``url``: ``ws://`` or ``wss://``; the identity presented upstream is appended as the last
    path segment, unless the URL holds ``{identity}`` where it goes instead. ``identity``: what
    is presented upstream (empty: the charger's own OCPP identity; on an installation's row it
    may hold ``{identity}``, e.g. ``FB-{identity}``). ``password`` (security profiles 1 and 2)
    is kept as the external authorizer's secret is: in the database, since every connection
    sends it; never shown back by the pages or the API."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="upstream_settings"
    )
    charger = models.ForeignKey(
        Charger,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="upstream_settings",
        help_text="Empty: the installation's default. Set: this charger's override.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Off: the charger is not presented upstream at all."
    )
    paused = models.BooleanField(
        default=False,
        help_text="Paused: the connection is closed; transaction messages are still queued.",
    )
    url = models.CharField("central system URL", max_length=500)
    identity = models.CharField(
        "identity presented upstream",
        max_length=100,
        blank=True,
        help_text="Empty: the charger's OCPP identity. May hold {identity}.",
    )
    security_profile = models.PositiveSmallIntegerField(
        choices=SecurityProfile.choices, default=SecurityProfile.NONE
    )
    password = models.CharField(max_length=100, blank=True)
    ca_certificate = models.TextField(
        "custom CA certificate (PEM)",
        blank=True,
        help_text="Profile 2: verify upstream's certificate against this CA instead of the "
        "system's.",
    )
    authorization = models.CharField(
        max_length=10, choices=UpstreamAuthorization.choices, default=UpstreamAuthorization.FUSEBOX
    )
    offline_authorization = models.CharField(
        "while upstream is unreachable",
        max_length=12,
        choices=OfflineAuthorization.choices,
        default=OfflineAuthorization.ACCEPT_KNOWN,
    )
    allowed_commands = ArrayField(
        models.CharField(max_length=32),
        default=default_commands,
        blank=True,
        help_text="What upstream may ask of the charger; anything else is answered NotSupported.",
    )
    allow_firmware = models.BooleanField("allow firmware and diagnostics requests", default=False)
    charger_down = models.CharField(
        "while the charger is offline",
        max_length=12,
        choices=ChargerDown.choices,
        default=ChargerDown.DISCONNECT,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "upstream settings"
        constraints = [
            models.UniqueConstraint(
                fields=["installation"],
                condition=Q(charger__isnull=True),
                name="upstream_one_default_per_installation",
            ),
            models.UniqueConstraint(
                fields=["charger"],
                condition=Q(charger__isnull=False),
                name="upstream_one_override_per_charger",
            ),
        ]

    def __str__(self) -> str:
        scope = (
            self.charger.ocpp_identity
            if self.charger_id
            else f"installation {self.installation_id}"
        )
        return f"Upstream {self.url} for {scope}"

    def presented_identity(self, charger: Charger) -> str:
        """The charge point identity upstream sees for ``charger``."""
        template = self.identity or IDENTITY_PLACEHOLDER
        return template.replace(IDENTITY_PLACEHOLDER, charger.ocpp_identity)

    def connect_url(self, charger: Charger) -> str:
        """The URL the link opens for ``charger``: ``{identity}`` replaced, or appended."""
        identity = self.presented_identity(charger)
        if IDENTITY_PLACEHOLDER in self.url:
            return self.url.replace(IDENTITY_PLACEHOLDER, identity)
        return self.url.rstrip("/") + "/" + identity


def effective_settings(charger: Charger) -> UpstreamSettings | None:
    """The settings that apply to ``charger`` (its override, else its installation's), or None
    when it is not bridged (no settings, or disabled)."""
    rows = {
        row.charger_id: row
        for row in UpstreamSettings.objects.filter(installation_id=charger.installation_id).filter(
            Q(charger__isnull=True) | Q(charger=charger)
        )
    }
    chosen = rows.get(charger.pk) or rows.get(None)
    return chosen if chosen is not None and chosen.enabled else None


class UpstreamLink(TenantModel):
    """A bridged charger's upstream connection as the bridge last saw it (written by the bridge)."""

    tenancy_path = "charger__installation"

    charger = models.OneToOneField(Charger, on_delete=models.CASCADE, related_name="upstream_link")
    state = models.CharField(max_length=16, choices=LinkState.choices, default=LinkState.CONNECTING)
    reason = models.CharField(max_length=300, blank=True)
    since = models.DateTimeField()
    node = models.CharField(max_length=100, blank=True)
    boot_status = models.CharField(max_length=10, blank=True)  # upstream's last answer
    heartbeat_interval_s = models.PositiveIntegerField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_action = models.CharField(max_length=40, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    last_received_action = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"{self.charger} upstream: {self.state}"


class UpstreamMessage(models.Model):
    """A transaction message waiting for (or delivered to) upstream; sent in ``id`` order per
    charger. ``payload`` carries Fusebox's transaction id; the link puts upstream's in its place
    when it sends (``UpstreamTransaction``). ``sent_at`` set: done with (answered, skipped, or
    ``failed``: given up after ``outbox.MAX_ATTEMPTS`` attempts, docs/upstream.md)."""

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        ChargeSession, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=QueuedAction.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)  # answered by upstream, or given up
    answer = models.JSONField(null=True, blank=True)
    failed = models.BooleanField(
        default=False,
        db_default=False,  # the bridge queues MeterValues with a plain INSERT
        help_text="Given up after MAX_ATTEMPTS attempts upstream refused or left unanswered "
        "(``answer`` says why); the queue behind it went on.",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["charger", "id"], condition=Q(sent_at__isnull=True), name="upstream_queued"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} for {self.charger_id}"


class UpstreamTransaction(models.Model):
    """Fusebox's transaction and the id upstream assigned to it."""

    session = models.OneToOneField(
        ChargeSession, on_delete=models.CASCADE, related_name="upstream_transaction"
    )
    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="+")
    upstream_transaction_id = models.IntegerField()
    id_tag_status = models.CharField(max_length=12, blank=True)  # upstream's idTagInfo status
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["charger", "upstream_transaction_id"], name="upstream_tx_by_charger"
            )
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} = upstream {self.upstream_transaction_id}"


class UpstreamCap(models.Model):
    """A charging profile upstream sent (SetChargingProfile, or RemoteStartTransaction's): a
    wish, never sent to the charger. Balancing applies the limit the stored profiles give at
    every moment as a cap on the charger (``upstream.caps``; docs/upstream.md "The safety
    rule"). ``schedule`` is the ``chargingSchedule`` as sent; ``session`` is the transaction a
    TxProfile belongs to (empty for a remote start's profile until its session begins)."""

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="upstream_caps")
    connector_id = models.PositiveSmallIntegerField()  # 0: the whole charger
    profile_id = models.IntegerField()
    stack_level = models.PositiveIntegerField()
    purpose = models.CharField(max_length=24)  # OCPP ChargingProfilePurposeType
    kind = models.CharField(max_length=10)  # Absolute, Recurring, Relative
    recurrency = models.CharField(max_length=10, blank=True)  # Daily, Weekly
    session = models.ForeignKey(
        ChargeSession, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    upstream_transaction_id = models.IntegerField(null=True, blank=True)
    schedule = models.JSONField()
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["charger", "connector_id"], name="upstream_cap_charger")]

    def __str__(self) -> str:
        return f"upstream {self.purpose} {self.profile_id} on {self.charger_id}/{self.connector_id}"
