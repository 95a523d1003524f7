"""Each installation's access policy: running sessions on revocation, the external authorizer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from auth_access import egress
from auth_access.choices import FallbackPolicy, RunningSessionPolicy
from portal.tenancy import TenantModel

if TYPE_CHECKING:
    from installations.models import Installation

MIN_SECRET_LENGTH = 16


class AccessPolicy(TenantModel):
    """How an installation treats revocations, and whether an external system authorizes.

    One per installation (created with it). With ``external_enabled``, every decision on a locked
    charger is asked of ``external_url`` (a signed POST, see ``auth_access.external`` and
    docs/access.md) within ``external_deadline_ms``; when it fails, ``external_fallback`` decides.
    ``external_url`` must pass the SSRF guard (``auth_access.egress``: https, public addresses).
    """

    installation = models.OneToOneField(
        "installations.Installation", on_delete=models.CASCADE, related_name="access_policy"
    )
    running_session_policy = models.CharField(
        max_length=10, choices=RunningSessionPolicy.choices, default=RunningSessionPolicy.LET_RUN
    )
    external_enabled = models.BooleanField("external authorizer enabled", default=False)
    external_url = models.URLField("external authorizer URL", max_length=500, blank=True)
    external_secret = models.CharField(
        max_length=200, blank=True, help_text="Shared secret of the HMAC-SHA256 signatures."
    )
    external_deadline_ms = models.PositiveIntegerField(
        default=2000, validators=[MinValueValidator(100), MaxValueValidator(10_000)]
    )
    external_fallback = models.CharField(
        max_length=12, choices=FallbackPolicy.choices, default=FallbackPolicy.ACCEPT_KNOWN
    )
    external_require_signed_reply = models.BooleanField(
        default=False, help_text="Treat an answer without a valid signature as a failure."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "access policies"
        ordering = ["installation_id"]

    def __str__(self) -> str:
        return f"Access policy of {self.installation}"

    @classmethod
    def of(cls, installation: Installation) -> AccessPolicy:
        """The installation's policy (an unsaved default when it has none yet)."""
        try:
            return installation.access_policy  # type: ignore[attr-defined,no-any-return]
        except cls.DoesNotExist:
            return cls(installation=installation)

    @property
    def uses_external(self) -> bool:
        return bool(self.external_enabled and self.external_url and self.external_secret)

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> AccessPolicy:
        policy = super().from_db(db, field_names, values)
        policy._stored_url = policy.__dict__.get("external_url")
        return policy

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.external_url:
            # The SSRF guard: https, a sane port, public addresses only (checked again at every
            # call, DNS may change). A new URL's host is resolved here, so a typo shows at once;
            # an unchanged one only has its form checked, so changing another setting does not
            # depend on DNS.
            unsafe = egress.problem(
                self.external_url,
                allow_local=settings.ACCESS_EXTERNAL_ALLOW_HTTP,
                resolve_host=self.external_url != getattr(self, "_stored_url", None),
            )
            if unsafe:
                errors["external_url"] = unsafe
        if self.external_secret and len(self.external_secret) < MIN_SECRET_LENGTH:
            errors["external_secret"] = f"Use at least {MIN_SECRET_LENGTH} characters."
        if self.external_enabled:
            if not self.external_url:
                errors.setdefault("external_url", "Required to enable the external authorizer.")
            if not self.external_secret:
                errors.setdefault("external_secret", "Required to enable the external authorizer.")
        if errors:
            raise ValidationError(errors)
