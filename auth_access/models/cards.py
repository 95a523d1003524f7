"""Charge cards (RFID idTags) and the unknown cards chargers have seen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from portal.tenancy import Action, TenantModel

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser

# OCPP 1.6 IdToken: CiString20Type. Printable ASCII without spaces, compared case-insensitively:
# Fusebox stores it upper-case, so "abc1" and "ABC1" are the same card.
id_tag_validator = RegexValidator(
    r"^[!-~]{1,20}$", "Use 1-20 printable characters without spaces (the card's idTag)."
)


def normalize_id_tag(id_tag: str) -> str:
    """The form idTags are stored and compared in: trimmed, upper-case."""
    return id_tag.strip().upper()


class ChargeCard(TenantModel):
    """An RFID charge card (OCPP idTag) belonging to a user; unique across the whole system.

    A card is either the holder's own (``installation`` empty: they added it; it charges
    wherever they may charge, and only they see it) or registered at an installation by its
    owner or installer for a member (it charges only at that installation, and that
    installation's owners and installers see it, block it, set its expiry). So no installation
    ever sees, blocks or expires a card beyond its own chargers. The holder sees all their cards.
    """

    tenancy_path = ""  # the holder, or the managers of the installation it is registered at

    id_tag = models.CharField(
        "card number (idTag)", max_length=20, unique=True, validators=[id_tag_validator]
    )
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="charge_cards")
    installation = models.ForeignKey(
        "installations.Installation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="registered_cards",
        help_text=(
            "Registered by this installation's owner or installer for a member: it charges only"
            " here. Empty: the holder's own card."
        ),
    )
    name = models.CharField(max_length=60, blank=True)
    is_blocked = models.BooleanField(default=False)
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who added the card (the holder, an owner or installer, or an integration).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id", "name", "id_tag"]
        constraints = [
            models.CheckConstraint(
                condition=Q(id_tag=Upper(F("id_tag"))) & ~Q(id_tag=""),
                name="charge_card_id_tag_normalized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.id_tag} ({self.user})"

    @classmethod
    def tenant_filter(cls, user: AbstractBaseUser, action: Action) -> Q:
        from installations.choices import roles_allowed
        from installations.models import Membership

        managed = Membership.objects.filter(user=user, role__in=roles_allowed(action)).values(
            "installation_id"
        )
        return Q(user=user) | Q(installation_id__in=managed)

    def clean(self) -> None:
        from auth_access.virtual_tags import looks_virtual

        if self.id_tag:
            self.id_tag = normalize_id_tag(self.id_tag)
            if looks_virtual(self.id_tag):
                raise ValidationError(
                    {"id_tag": "Card numbers starting with FB and 18 characters long are reserved."}
                )
            same = ChargeCard.objects.filter(id_tag=self.id_tag).exclude(pk=self.pk)
            if same.exists():
                raise ValidationError({"id_tag": "This card is already registered."})

    def charges_at(self, installation_id: int) -> bool:
        """The holder's own card charges wherever they may; a registered one only there."""
        return self.installation_id is None or self.installation_id == installation_id

    def is_valid_at(self, now: datetime) -> bool:
        """Not blocked and not expired at ``now``."""
        return not self.is_blocked and (self.expires_at is None or self.expires_at > now)

    def save(self, *args: object, **kwargs: object) -> None:
        self.id_tag = normalize_id_tag(self.id_tag)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class SeenCard(TenantModel):
    """An idTag Fusebox does not know, shown at a charger: an owner may assign it to a member.

    One row per charger and idTag, upserted in one statement at each Authorize/StartTransaction
    (``record``), so a card swiped a hundred times is one row with a count.
    """

    tenancy_path = "charger__installation"

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="seen_cards"
    )
    id_tag = models.CharField("card number (idTag)", max_length=20)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["charger", "id_tag"], name="seen_card_per_charger"),
        ]
        indexes = [models.Index(fields=["id_tag"], name="seen_card_id_tag")]

    def __str__(self) -> str:
        return f"{self.id_tag} seen at {self.charger} ({self.times_seen}x)"

    @classmethod
    def record(cls, charger_id: int, id_tag: str, now: datetime) -> None:
        """Count a sighting (insert, or move last_seen_at and the count): one statement."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(*cls.record_statement([(charger_id, id_tag)], now))

    @classmethod
    def record_statement(
        cls, sightings: Sequence[tuple[int, str]], now: datetime
    ) -> tuple[str, list[object]]:
        """The upsert of ``record()`` for any number of sightings (charger id, idTag) at
        ``now``, to run alone or with the decisions' records. A pair seen twice is one row
        counted twice (one statement may not update a row twice)."""
        from django.db import connection

        counts = Counter(
            (charger_id, normalize_id_tag(id_tag)[:20]) for charger_id, id_tag in sightings
        )
        table = connection.ops.quote_name(cls._meta.db_table)
        params: list[object] = [
            now,
            now,
            [charger_id for charger_id, _ in counts],
            [id_tag for _, id_tag in counts],
            list(counts.values()),
        ]
        return (
            f"INSERT INTO {table} (charger_id, id_tag, times_seen, first_seen_at, last_seen_at)"
            " SELECT *, %s, %s FROM unnest(%s::bigint[], %s::text[], %s::int[])"
            " ON CONFLICT (charger_id, id_tag) DO UPDATE SET"
            f" times_seen = {table}.times_seen + EXCLUDED.times_seen,"
            f" last_seen_at = GREATEST({table}.last_seen_at, EXCLUDED.last_seen_at)",
            params,
        )
