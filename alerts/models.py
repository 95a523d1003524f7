"""E-mail alert subscriptions (``Subscription``) and the durable outbox of alert e-mails
(``AlertMail``). docs/alerts.md says what is sent when.

A ``Subscription`` is one user's choice for one installation they are a member of. It is made
lazily: a member without one gets their role's defaults (owners and installers: faults and
offline, at once; drivers: nothing), so no other app has to create it at membership time and a
member who leaves stops getting alerts with no row to clean up.

An ``AlertMail`` is written, rendered, in the transaction that decides it (``dedup_key`` unique:
an incident's opening, its recovery, a session's end, a digest, each once per recipient) and
sent later by ``alerts.outbox`` with retries, so a mail server that is down delays the e-mail
but never loses it or sends it twice.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from alerts.choices import INCIDENT_KINDS, AlertKind, DeliveryMode, MailStatus
from chargers.models import Charger
from installations.choices import Role, roles_allowed
from installations.models import Installation, Membership
from portal.tenancy import Action, TenantModel

DEFAULT_OFFLINE_THRESHOLD_MIN = 10
MAX_OFFLINE_THRESHOLD_MIN = 24 * 60


def default_kinds(role: str | None) -> list[str]:
    """Owners and installers hear of faults and offline chargers; drivers opt in."""
    if role in (Role.OWNER, Role.INSTALLER):
        return [str(kind) for kind in INCIDENT_KINDS]
    return []


class Subscription(TenantModel):
    """Which alerts ``user`` gets for ``installation``: the kinds, chargers muted, how long a
    charger must be offline before an alert (minutes), at once or in a daily digest.

    Tenancy: a subscription is only ever its user's own, at an installation they are a member
    of (any role); nobody else, owners included, reaches it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    kinds = ArrayField(
        models.CharField(max_length=24, choices=AlertKind.choices), default=list, blank=True
    )
    muted_chargers = models.ManyToManyField(Charger, blank=True, related_name="+")
    offline_threshold_minutes = models.PositiveIntegerField(
        default=DEFAULT_OFFLINE_THRESHOLD_MIN,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_OFFLINE_THRESHOLD_MIN)],
        help_text="An offline incident is alerted once it is this old and still open.",
    )
    delivery = models.CharField(
        max_length=10, choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["installation__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "installation"], name="alert_subscription_once_per_installation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.installation}"

    @classmethod
    def for_membership(cls, membership: Membership) -> Subscription:
        """The unsaved defaults of a member's role."""
        return cls(
            user_id=membership.user_id,
            installation_id=membership.installation_id,
            kinds=default_kinds(membership.role),
        )

    def wants(self, kind: str) -> bool:
        return self.enabled and kind in self.kinds

    def clean(self) -> None:
        unknown = sorted(set(self.kinds or []) - set(AlertKind.values))
        if unknown:
            raise ValidationError(
                {"kinds": f"Unknown alert kind: {', '.join(unknown)} (one of {AlertKind.values})."}
            )
        incident_kinds = sorted(set(self.kinds or []) & set(INCIDENT_KINDS))
        if incident_kinds and self.user_id and self.installation_id:
            role = (
                Membership.objects.filter(
                    user_id=self.user_id, installation_id=self.installation_id
                )
                .values_list("role", flat=True)
                .first()
            )
            if role is not None and not may_hear_of_incidents(role):
                raise ValidationError(
                    {
                        "kinds": "Faults, offline chargers and fuse overloads are told to the "
                        "installation's owners and installers; a driver may choose only their "
                        f"own sessions' alerts (not {', '.join(incident_kinds)})."
                    }
                )

    # A person's own: a superuser too sees only theirs through restrict().
    personal = True

    @classmethod
    def tenant_filter(cls, user, action: Action) -> Q:  # type: ignore[no-untyped-def]
        """Only the user's own, at installations they are a member of (whatever the action)."""
        member_of = Membership.objects.filter(user=user).values("installation_id")
        return Q(user=user, installation_id__in=member_of)


class AlertMail(models.Model):
    """One e-mail to send, rendered when decided (subject, text and HTML bodies, the one-click
    unsubscribe URL), with its attempts. ``dedup_key`` names what it tells of and for whom
    (``incident:12:opened:user:5``, ``session:40:session_finished:user:9``,
    ``digest:user:5:2026-12-04``): the same alert is never written twice. ``message_id`` is the
    same on every attempt, so a retry after a lost answer is the same message to the recipient's
    mail client."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_mails"
    )
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=24, blank=True, help_text="empty for a digest")
    to_address = models.EmailField(max_length=254)
    subject = models.CharField(max_length=250)
    text_body = models.TextField()
    html_body = models.TextField()
    unsubscribe_url = models.URLField(max_length=600)
    dedup_key = models.CharField(max_length=120, unique=True)
    message_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=MailStatus.choices, default=MailStatus.PENDING)
    digest = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=[MailStatus.PENDING, MailStatus.SENDING]),
                name="alert_mail_due",
            ),
            models.Index(
                fields=["user", "created_at"],
                condition=Q(status__in=[MailStatus.PENDING, MailStatus.SENDING, MailStatus.SENT]),
                name="alert_mail_recent",
            ),
            models.Index(fields=["user", "id"], condition=Q(status="held"), name="alert_mail_held"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to_address} ({self.status})"


def may_hear_of_incidents(role: str) -> bool:
    """Whether a member of this role is told of an installation's incidents (faults, offline
    chargers, overloads): those who may operate its chargers, never a driver."""
    return role in roles_allowed(Action.OPERATE)
