"""Installations, their fuse tree (circuits), memberships and invitations.

An Installation is the tenancy boundary: every other tenant object hangs off one, and every query
that serves a user is restricted through ``portal.tenancy``.
"""

from __future__ import annotations

import math
import secrets
import zoneinfo
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from installations.choices import AuthorizationMode, NetworkType, Role
from installations.failsafe import failsafe_problem
from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PHASE_CHOICES = [(1, "1-phase"), (3, "3-phase")]
# The largest live available current a meter or EMS may report per phase (the main fuse's limit).
MAX_AVAILABLE_CURRENT_A = 4000.0


def available_current_problem(values: object) -> str | None:
    """Why a live available current cannot be used (None: it can): three finite currents, one
    per phase L1-L3 (also on a 1-phase site), each 0 to ``MAX_AVAILABLE_CURRENT_A``."""
    if not isinstance(values, list | tuple) or len(values) != 3:
        return "Give three currents, one per phase (L1, L2, L3), also on a 1-phase installation."
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return "Each current must be a number of amperes."
        if not 0 <= value <= MAX_AVAILABLE_CURRENT_A:
            return f"Each current must be between 0 and {MAX_AVAILABLE_CURRENT_A:g} A."
    return None


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Oslo).")


def _generate_token() -> str:
    return secrets.token_urlsafe(32)


class Installation(TenantModel):
    """A site with a main fuse and chargers: a car park, an office, a depot. The tenancy boundary."""

    tenancy_path = ""

    name = models.CharField(max_length=120)
    address = models.TextField(blank=True)
    time_zone = models.CharField(
        max_length=64, default="Europe/Oslo", validators=[validate_time_zone]
    )
    authorization_mode = models.CharField(
        max_length=10, choices=AuthorizationMode.choices, default=AuthorizationMode.LOCKED
    )
    phases = models.PositiveSmallIntegerField(choices=PHASE_CHOICES, default=3)
    voltage_v = models.PositiveSmallIntegerField(
        "voltage (V)", default=230, validators=[MinValueValidator(100), MaxValueValidator(400)]
    )
    network_type = models.CharField(
        max_length=2, choices=NetworkType.choices, default=NetworkType.TN
    )
    available_current_a = ArrayField(
        models.FloatField(validators=[MinValueValidator(0)]),
        size=3,
        null=True,
        blank=True,
        help_text="Live available current per phase (L1, L2, L3) from a meter or EMS; empty: the main fuse.",
    )
    available_current_valid_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the live available current stops applying (then the main fuse alone counts).",
    )
    failsafe_current_a = models.FloatField(
        "failsafe current (A)",
        default=6,
        validators=[MinValueValidator(0), MaxValueValidator(80)],
        help_text="What a charger falls back to when it loses its connection.",
    )
    max_phase_imbalance_a = models.FloatField(
        "max phase imbalance (A)", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(failsafe_current_a__gte=0), name="installation_failsafe_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        if action != Action.VIEW:
            return None
        return Q(id__in=Membership.objects.filter(user=user).values("installation_id"))

    def clean(self) -> None:
        if self.currency:
            self.currency = self.currency.upper()
            if len(self.currency) != 3 or not self.currency.isalpha():
                raise ValidationError(
                    {"currency": "Use a three-letter ISO 4217 code such as EUR or NOK."}
                )
        if self.available_current_a:  # empty: none reported, the main fuse alone counts
            problem = available_current_problem(self.available_current_a)
            if problem:
                raise ValidationError({"available_current_a": problem})
        if self.pk and self.failsafe_current_a is not None:
            problem = failsafe_problem(self, failsafe_a=self.failsafe_current_a)
            if problem:
                raise ValidationError({"failsafe_current_a": problem})

    @property
    def main_fuse(self) -> Circuit | None:
        return self.circuits.filter(parent__isnull=True).first()

    def live_available_current_a(self, now: datetime) -> list[float] | None:
        """The available current per phase a meter or EMS reported, while it is valid. A stored
        value that is unusable (written around validation) counts as none here; balancing does
        not solve with it at all (``live_available_current_problem``)."""
        if not self._available_current_in_force(now) or self.live_available_current_problem(now):
            return None
        return [float(value) for value in self.available_current_a or []]

    def live_available_current_problem(self, now: datetime) -> str | None:
        """Why the live available current in force cannot be used; None when it can or none is."""
        if not self._available_current_in_force(now):
            return None
        return available_current_problem(self.available_current_a)

    def _available_current_in_force(self, now: datetime) -> bool:
        return bool(self.available_current_a) and (
            self.available_current_valid_until is None or self.available_current_valid_until > now
        )

    def role_of(self, user: AbstractBaseUser) -> Role | None:
        """The user's role here, or None when they are not a member."""
        if not user.is_authenticated:
            return None
        role = self.memberships.filter(user=user).values_list("role", flat=True).first()
        return Role(role) if role else None


class Circuit(TenantModel):
    """A fuse in the installation's tree: the main fuse (no parent) or a sub-circuit below it."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="circuits"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=80)
    max_current_a = models.FloatField(
        "max current per phase (A)", validators=[MinValueValidator(1), MaxValueValidator(4000)]
    )

    class Meta:
        ordering = ["installation_id", "parent_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation"],
                condition=Q(parent__isnull=True),
                name="one_main_fuse_per_installation",
            ),
            models.UniqueConstraint(
                fields=["installation", "name"], name="circuit_name_unique_per_installation"
            ),
            models.CheckConstraint(
                condition=Q(max_current_a__gt=0), name="circuit_max_current_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.max_current_a:g} A)"

    @property
    def is_main_fuse(self) -> bool:
        return self.parent_id is None

    def ancestors(self) -> list[Circuit]:
        """Parents up to the main fuse, nearest first."""
        chain: list[Circuit] = []
        node = self.parent
        while node is not None and len(chain) < 100:
            chain.append(node)
            node = node.parent
        return chain

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.parent is not None:
            if self.parent.installation_id != self.installation_id:
                errors["parent"] = "The parent circuit belongs to another installation."
            elif self.pk and (self.parent.pk == self.pk or self in self.parent.ancestors()):
                errors["parent"] = "A circuit cannot be placed below itself."
            elif self.max_current_a is not None and self.max_current_a > self.parent.max_current_a:
                errors["max_current_a"] = (
                    f"{self.max_current_a:g} A is above the parent circuit {self.parent.name} "
                    f"({self.parent.max_current_a:g} A)."
                )
        elif self.installation_id is not None:
            other_main = Circuit.objects.filter(
                installation_id=self.installation_id, parent__isnull=True
            )
            if self.pk:
                other_main = other_main.exclude(pk=self.pk)
            if other_main.exists():
                errors["parent"] = (
                    "The installation already has a main fuse; choose a parent circuit."
                )
        if self.installation_id and self.name:
            same_name = Circuit.objects.filter(installation_id=self.installation_id, name=self.name)
            if same_name.exclude(pk=self.pk).exists():
                errors["name"] = "Another circuit of this installation already has this name."
        if self.pk and self.max_current_a is not None:
            above = [c for c in self.children.all() if c.max_current_a > self.max_current_a]
            if above:
                names = ", ".join(f"{c.name} ({c.max_current_a:g} A)" for c in above)
                errors["max_current_a"] = (
                    f"Sub-circuits {names} would be above this circuit's limit."
                )
        if not errors and self.pk and self.max_current_a is not None:
            problem = failsafe_problem(self.installation, circuit=self)
            if problem:
                errors["max_current_a"] = problem
        if errors:
            raise ValidationError(errors)


class Membership(TenantModel):
    """A user's role at an installation. Drivers may charge everywhere or only on named chargers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    may_charge_everywhere = models.BooleanField(
        default=True,
        help_text="A driver may charge on every charger here; otherwise only on named chargers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["installation_id", "role", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "installation"], name="one_membership_per_user_and_installation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.installation}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        # Everyone may see their own membership; leaving is done through a service that checks roles.
        return Q(user=user) if action == Action.VIEW else None


class Invitation(TenantModel):
    """An invitation, by e-mail, to join an installation with a role.

    Nothing happens until the invitee answers: they accept or decline it on the link's page, on
    their installations page or through the API (``installations.services``), never by merely
    logging in.
    """

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.DRIVER)
    token = models.CharField(max_length=64, unique=True, default=_generate_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    declined_at = models.DateTimeField(
        null=True, blank=True, help_text="The invitee said no; it can no longer be accepted."
    )

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "email"],
                condition=Q(accepted_at__isnull=True, declined_at__isnull=True),
                name="one_open_invitation_per_address",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()} to {self.installation}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = self.email.lower()
        if self.expires_at is None:
            self.expires_at = timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_open(self) -> bool:
        """Neither accepted nor declined, and not expired: the invitee may still answer it."""
        return (
            self.accepted_at is None
            and self.declined_at is None
            and self.expires_at > timezone.now()
        )
