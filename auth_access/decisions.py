"""THE authorization function: may this idTag charge on this charger now?

Every Authorize and StartTransaction (and, later, remote starts and external authorizers) goes
through ``authorize()``. The decision itself is the pure ``decide()`` over facts; ``authorize()``
gathers those facts from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from installations.choices import AuthorizationMode, Role

if TYPE_CHECKING:
    from chargers.models import Charger


class AuthorizationStatus(StrEnum):
    """OCPP 1.6 IdTagInfo.status values."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True)
class CardFacts:
    card_id: int
    user_id: int
    is_blocked: bool
    expires_at: datetime | None
    user_may_charge_here: bool


@dataclass(frozen=True)
class Decision:
    status: AuthorizationStatus
    reason: str
    user_id: int | None = None
    card_id: int | None = None
    expires_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


def decide(mode: AuthorizationMode, card: CardFacts | None, now: datetime) -> Decision:
    """The rule: open installations accept anyone; locked ones a valid card of a permitted user."""
    ids = {"user_id": card.user_id, "card_id": card.card_id} if card else {}
    if mode == AuthorizationMode.OPEN:
        return Decision(AuthorizationStatus.ACCEPTED, "open installation", **ids)
    if card is None:
        return Decision(AuthorizationStatus.INVALID, "unknown card")
    if card.is_blocked:
        return Decision(AuthorizationStatus.BLOCKED, "card is blocked", **ids)
    if card.expires_at is not None and card.expires_at <= now:
        return Decision(AuthorizationStatus.EXPIRED, "card has expired", **ids)
    if not card.user_may_charge_here:
        return Decision(
            AuthorizationStatus.INVALID, "card holder may not charge on this charger", **ids
        )
    return Decision(
        AuthorizationStatus.ACCEPTED, "card accepted", expires_at=card.expires_at, **ids
    )


def effective_mode(charger: Charger) -> AuthorizationMode:
    if charger.authorization_mode in (AuthorizationMode.OPEN, AuthorizationMode.LOCKED):
        return AuthorizationMode(charger.authorization_mode)
    return AuthorizationMode(charger.installation.authorization_mode)


def user_may_charge(user_id: int, charger: Charger) -> bool:
    """Members who run the installation, drivers allowed everywhere, and drivers named on the charger."""
    from auth_access.models import ChargerPermission
    from installations.models import Membership

    member = Membership.objects.filter(user_id=user_id, installation_id=charger.installation_id)
    if member.filter(
        Q(role__in=[Role.OWNER, Role.INSTALLER]) | Q(may_charge_everywhere=True)
    ).exists():
        return True
    return ChargerPermission.objects.filter(membership__in=member, charger=charger).exists()


def authorize(charger: Charger, id_tag: str, now: datetime | None = None) -> Decision:
    """Decide for ``id_tag`` at ``charger`` (sync; the bridge calls it through sync_to_async)."""
    from auth_access.models import ChargeCard

    card = ChargeCard.objects.filter(id_tag=id_tag.strip().upper()).first()
    facts = None
    if card is not None:
        facts = CardFacts(
            card_id=card.pk,
            user_id=card.user_id,
            is_blocked=card.is_blocked,
            expires_at=card.expires_at,
            user_may_charge_here=user_may_charge(card.user_id, charger),
        )
    return decide(effective_mode(charger), facts, now or timezone.now())
