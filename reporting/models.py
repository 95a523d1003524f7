"""The price history of an installation: the price per kWh and currency in force from a time on.

A session's cost is its energy times the price in force when it ended (``reporting.queries``).
Periods that have begun are history: they are never changed or deleted, and a new period never
starts in the past, so a later price change cannot rewrite the cost of a finished session. A
period that has not begun yet (a scheduled price) may still be cancelled.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.tenancy import Action, TenantModel, TenantQuerySet


class PriceHistoryError(ValidationError):
    """A change that would rewrite the price history (a period that has already begun)."""


def validate_currency(value: str) -> None:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError("Use a three-letter ISO 4217 code such as EUR or NOK.")


class PricePeriod(TenantModel):
    """The price per kWh and currency at an installation from ``effective_from`` until the next
    period begins. Append-only once it has begun."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="price_periods"
    )
    price_per_kwh = models.DecimalField(
        max_digits=8, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    effective_from = models.DateTimeField(help_text="When this price starts to apply.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["installation_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "effective_from"],
                name="one_price_per_installation_and_time",
            ),
            models.CheckConstraint(
                condition=Q(price_per_kwh__gte=0), name="price_per_kwh_nonnegative"
            ),
        ]
        indexes = [
            models.Index(fields=["installation", "-effective_from"], name="price_period_lookup"),
        ]

    def __str__(self) -> str:
        start = f"{self.effective_from:%Y-%m-%d %H:%M}"
        return f"{self.price_per_kwh} {self.currency}/kWh at {self.installation_id} from {start}"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        """A member of an installation (a driver too) may see its prices."""
        if action != Action.VIEW:
            return None
        from installations.models import Membership

        return Q(installation__in=Membership.objects.filter(user=user).values("installation_id"))

    def has_begun(self, now: datetime | None = None) -> bool:
        return self.effective_from <= (now or timezone.now())

    def clean(self) -> None:
        if self.currency:
            self.currency = self.currency.upper()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            stored = PricePeriod.objects.filter(pk=self.pk).values_list("effective_from", flat=True)
            begun = stored.first()
            if begun is not None and begun <= timezone.now():
                raise PriceHistoryError("A price period that has begun is history; add a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.has_begun():
            raise PriceHistoryError(
                "A price period that has begun is history; it cannot be deleted."
            )
        return super().delete(*args, **kwargs)


class PriceRange(models.Model):
    """A price period with the time range in which it is the price in force: a database view over
    ``PricePeriod`` (migration 0003), read only.

    ``valid_from`` is the period's start, except for an installation's first period, which also
    covers everything before it (a session that ended before any price was set takes the first
    one); ``valid_until`` is the next period's start (``infinity`` for the latest). Joining a
    session to the range its end falls in is one hash join for a whole report, where a lookup per
    session was a subquery per row (seconds at a few hundred thousand sessions).
    """

    period = models.OneToOneField(
        PricePeriod, on_delete=models.DO_NOTHING, primary_key=True, db_column="id", related_name="+"
    )
    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.DO_NOTHING, related_name="price_ranges"
    )
    price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4)
    currency = models.CharField(max_length=3)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "reporting_price_range"

    def __str__(self) -> str:
        return f"{self.price_per_kwh} {self.currency}/kWh [{self.valid_from}, {self.valid_until})"


class DailyUsage(TenantModel):
    """The finished sessions of one local day, summed: a rollup of ``ChargeSession`` for reports.

    One row per installation, local day (in the installation's time zone) of ``started_at``,
    charger, driver, card and currency. Only finished sessions (completed, with an end) are in it:
    their facts no longer change unless the session row itself does. Kept exact by database
    triggers in the same transaction as every change to a session, a charger's installation, an
    installation's time zone or a price period (``reporting/rollup.py``, migration 0004); never
    written by Django, so its relations are plain columns without constraints or ``on_delete``.
    """

    installation = models.ForeignKey(
        "installations.Installation",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    day = models.DateField(help_text="Local day of the sessions' start at the installation.")
    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    card = models.ForeignKey(
        "auth_access.ChargeCard",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    currency = models.CharField(max_length=3, blank=True)
    sessions = models.IntegerField()
    energy_wh = models.BigIntegerField()
    connected_s = models.BigIntegerField()
    charging_s = models.BigIntegerField()
    idle_s = models.BigIntegerField()
    cost = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "day", "charger", "user", "card", "currency"],
                name="daily_usage_group",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            models.Index(fields=["user", "day"], name="daily_usage_user_day"),
            models.Index(fields=["charger", "day"], name="daily_usage_charger_day"),
        ]

    def __str__(self) -> str:
        return f"{self.sessions} sessions at {self.installation_id} on {self.day}"

    @classmethod
    def driver_scope(cls, user: Any, action: Action) -> Q | None:
        """A driver sees the sums of their own sessions, on any installation (as sessions)."""
        return Q(user=user) if action == Action.VIEW else None


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class ExportJob(models.Model):
    """A large export written by a Celery worker (``reporting.jobs``): who asked, what (the export
    source, its URL arguments and its validated filter parameters, which the worker re-applies
    through the tenancy gate as that user), its progress, and the file, kept until ``expires_at``.

    Only the user who asked sees it (``tenant_filter``): another user, even of the same
    installation, gets a 404.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs"
    )
    source = models.CharField(max_length=20, help_text="Which export (reporting.jobs.Source).")
    format = models.CharField(max_length=4, help_text="csv or xlsx.")
    arguments = models.JSONField(default=dict, blank=True, help_text="The URL's arguments.")
    parameters = models.JSONField(default=dict, blank=True, help_text="The validated filters.")
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="exports/", max_length=300, blank=True)
    filename = models.CharField(max_length=200, blank=True, help_text="As downloaded.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker writing it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="The file is deleted after this.")
    token_installations = ArrayField(
        models.BigIntegerField(),
        null=True,
        blank=True,
        help_text="Asked with an API token limited to these installations: the worker builds "
        "the export within them, and only such a token (or the web) lists the job.",
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_job_owner"),
            models.Index(fields=["status", "expires_at"], name="export_job_sweep"),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.source}, {self.format}): {self.status}"

    # A person's own: a superuser too sees only theirs through restrict().
    personal = True

    @classmethod
    def token_filter(cls, scope: Any) -> Q:
        """What a request with an API token limited to some installations may list: the jobs
        asked within those installations (not the user's other jobs)."""
        if scope.installation_ids is None:
            return Q()
        return Q(token_installations__contained_by=sorted(scope.installation_ids))

    @classmethod
    def tenant_filter(cls, user: Any, action: Action) -> Q:
        """An export belongs to the user who asked for it, whatever their role."""
        return Q(requested_by=user)

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED)

    @property
    def percent(self) -> int:
        """Progress in whole percent (100 when done)."""
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
