"""Webhook endpoints (``Endpoint``) and the deliveries made to them (``Delivery``).

An ``Endpoint`` belongs to an installation: its owners and installers manage it, drivers never
see it. The ``Delivery`` log holds one row per event and endpoint (a database constraint), the
state of its attempts and what the receiver last answered. docs/webhooks.md is the contract.
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from auth_access import egress
from events.catalogue import CATALOGUE
from installations.models import Installation
from portal.tenancy import TenantModel
from webhooks.choices import OPEN_STATUSES, DeliveryStatus

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
EXCERPT_CHARS = 1024
# The type of the test button's message: not in the catalogue, never in the outbox.
TEST_EVENT_TYPE = "webhook.test"


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes (Standard Webhooks' secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why Fusebox will not send to ``url`` (the SSRF guard of ``auth_access.egress``), or None.
    ``resolve``: also look the host up and check every address (as at every send)."""
    return egress.problem(
        url, allow_local=settings.WEBHOOKS_ALLOW_LOCAL, purpose=egress.WEBHOOK, resolve_host=resolve
    )


def unknown_event_types(types: list[str]) -> list[str]:
    return [name for name in types if name not in CATALOGUE]


class Endpoint(TenantModel):
    """A receiver of an installation's events: its URL, the event types it wants (empty: all),
    and the secret that signs every delivery (Standard Webhooks, ``whsec_`` + base64).

    The secret is kept as the external authorizer's is (``AccessPolicy.external_secret``): in
    the database, since every delivery is signed with it; the API and the page show it only when
    it is made (creation, rotation), the admin never. ``busy_until`` is the sender's lease on the
    endpoint (one delivery at a time, in order); ``failing_since`` and ``consecutive_failures``
    count the failed attempts since the last success (disabling after persistent failure)."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        help_text="The event types to send (docs/events.md); empty: every type.",
    )
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    busy_until = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["installation_id", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.url:
            # A URL that did not change only has its form checked, so that disabling an
            # endpoint does not depend on DNS; a new one is resolved (a typo shows at once).
            unchanged = self.pk and self.url == getattr(self, "_stored_url", None)
            problem = webhook_url_problem(self.url, resolve=not unchanged)
            if problem:
                errors["url"] = problem
        if unknown := unknown_event_types(list(self.event_types or [])):
            errors["event_types"] = (
                f"Unknown event type{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
                " (docs/events.md lists them)."
            )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def from_db(cls, db, field_names, values):  # type: ignore[no-untyped-def]
        instance = super().from_db(db, field_names, values)
        instance._stored_url = instance.__dict__.get("url")
        return instance


class Delivery(TenantModel):
    """One event (or test message) to one endpoint, with its attempts.

    ``message_id`` is the ``webhook-id`` header: the same on every attempt and redelivery, so a
    receiver deduplicates on it. ``payload`` is the JSON body (the event's
    ``events.serializers.event_json``), kept so that a retry sends what the first attempt did.
    ``response_excerpt`` is at most 1 KB of the receiver's answer, control characters removed."""

    tenancy_path = "endpoint__installation"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # No database constraint: the outbox prunes old events without touching this log (a
    # delivery keeps its body and the event's id).
    event = models.ForeignKey(
        "events.Event",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    event_type = models.CharField(max_length=40)
    message_id = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"],
                condition=Q(event__isnull=False),
                name="webhook_delivery_once_per_event",
            )
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"

    @property
    def is_test(self) -> bool:
        return self.event_type == TEST_EVENT_TYPE
