"""Chargers (OCPP charge points) and their connectors."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from chargers.choices import ChargerAuthorizationMode, ConnectorStatus, PhaseRotation
from installations.choices import Role
from installations.failsafe import failsafe_problem
from installations.models import PHASE_CHOICES, Circuit, Installation, Membership
from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ocpp_identity_validator = RegexValidator(
    r"^[A-Za-z0-9._:\-]{1,48}$",
    "Use 1-48 letters, digits, '.', '_', ':' or '-' (it becomes part of the charger's URL).",
)


class Charger(TenantModel):
    """An OCPP 1.6 charge point on a circuit of an installation."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="chargers"
    )
    circuit = models.ForeignKey(Circuit, on_delete=models.PROTECT, related_name="chargers")
    name = models.CharField(max_length=80)
    ocpp_identity = models.CharField(
        "OCPP identity", max_length=48, unique=True, validators=[ocpp_identity_validator]
    )
    ocpp_password_hash = models.CharField(max_length=256, editable=False)
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    phases = models.PositiveSmallIntegerField(choices=PHASE_CHOICES, default=3)
    phase_rotation = models.CharField(
        max_length=6, choices=PhaseRotation.choices, default=PhaseRotation.L1L2L3
    )
    min_current_a = models.FloatField(
        "min current (A)", default=6, validators=[MinValueValidator(0), MaxValueValidator(80)]
    )
    max_current_a = models.FloatField(
        "max current (A)", default=32, validators=[MinValueValidator(1), MaxValueValidator(80)]
    )
    priority = models.SmallIntegerField(
        default=0, help_text="Higher priority chargers are served first."
    )
    authorization_mode = models.CharField(
        max_length=10,
        choices=ChargerAuthorizationMode.choices,
        default=ChargerAuthorizationMode.INHERIT,
    )
    boot_info = models.JSONField(
        default=dict, blank=True, editable=False, help_text="Last BootNotification."
    )
    last_boot_at = models.DateTimeField(null=True, blank=True, editable=False)
    configuration = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The charger's answer to GetConfiguration (configurationKey, unknownKey), read"
        " once per boot.",
    )
    configuration_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    allocated_current_a = models.FloatField(
        null=True,
        blank=True,
        editable=False,
        help_text="The limit balancing last sent (0: paused).",
    )
    allocated_phases = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    limit_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When balancing last sent its limit (it expires unless renewed).",
    )
    failsafe_sent_a = models.FloatField(
        null=True,
        blank=True,
        editable=False,
        help_text="The failsafe current last configured on the charger (empty: not yet).",
    )
    can_switch_phases = models.BooleanField(
        default=False, help_text="A 3-phase charger that can be told to charge on one phase."
    )
    is_online = models.BooleanField(default=False, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["installation_id", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_current_a__lte=F("max_current_a")), name="charger_min_not_above_max"
            ),
            models.UniqueConstraint(
                fields=["installation", "name"], name="charger_name_unique_per_installation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ocpp_identity})"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        """A driver sees the chargers they may charge on: the whole installation, or named ones."""
        if action != Action.VIEW:
            return None
        from auth_access.models import ChargerPermission

        everywhere = Membership.objects.filter(
            user=user, role=Role.DRIVER, may_charge_everywhere=True
        )
        named = ChargerPermission.objects.filter(membership__user=user).values("charger_id")
        # Subqueries, not joins: a join on permissions would repeat a charger once per permission.
        return Q(installation_id__in=everywhere.values("installation_id")) | Q(id__in=named)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (
            self.circuit_id
            and self.installation_id
            and self.circuit.installation_id != self.installation_id
        ):
            errors["circuit"] = "The circuit belongs to another installation."
        if self.min_current_a is not None and self.max_current_a is not None:
            if self.min_current_a > self.max_current_a:
                errors["min_current_a"] = "The minimum current is above the maximum current."
            if self.circuit_id and self.max_current_a > self.circuit.max_current_a:
                errors["max_current_a"] = (
                    f"{self.max_current_a:g} A is above circuit {self.circuit.name} ({self.circuit.max_current_a:g} A)."
                )
        if self.installation_id and self.name:
            same_name = Charger.objects.filter(installation_id=self.installation_id, name=self.name)
            if same_name.exclude(pk=self.pk).exists():
                errors["name"] = "Another charger of this installation already has this name."
        if self.installation_id and self.phases == 3 and self.installation.phases == 1:
            errors["phases"] = "A 3-phase charger cannot sit on a 1-phase installation."
        if not errors and self.circuit_id and self.installation_id:
            problem = failsafe_problem(self.installation, charger=self)
            if problem:
                errors["circuit"] = problem
        if errors:
            raise ValidationError(errors)

    def reported_configuration(self) -> dict[str, tuple[str | None, bool]]:
        """Key (as the charger spells it) -> (value, read-only), as the charger reported them
        at its last boot; empty when never read."""
        entries = self.configuration.get("configurationKey") or []
        return {
            str(entry["key"]): (entry.get("value"), bool(entry.get("readonly")))
            for entry in entries
            if isinstance(entry, dict) and entry.get("key")
        }

    def set_ocpp_password(self, password: str | None = None) -> str:
        """Generate a new OCPP password (or take the given one, for demo data), store its hash and
        return it (shown to the user once).

        The password is 144 random bits, so a salted SHA-256 is as safe as a slow password hash
        (nothing to brute-force) and keeps a reconnect storm of thousands of chargers cheap.
        """
        password = password or secrets.token_urlsafe(18)
        salt = secrets.token_hex(8)
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        self.ocpp_password_hash = f"sha256${salt}${digest}"
        return password

    def check_ocpp_password(self, password: str) -> bool:
        algorithm, _, rest = self.ocpp_password_hash.partition("$")
        salt, _, digest = rest.partition("$")
        if algorithm != "sha256" or not digest:
            return False
        candidate = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return hmac.compare_digest(candidate, digest)


class Connector(TenantModel):
    """A plug of a charger (OCPP connectorId 1, 2, ...), with its latest reported status."""

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(16)]
    )
    status = models.CharField(
        max_length=16, choices=ConnectorStatus.choices, default=ConnectorStatus.UNKNOWN
    )
    error_code = models.CharField(max_length=32, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["charger_id", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["charger", "connector_id"], name="connector_id_unique_per_charger"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charger.name} #{self.connector_id}"

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        charger_scope = Charger.driver_scope(user, action)
        if charger_scope is None:
            return None
        return Q(charger__in=Charger.objects.filter(charger_scope))
