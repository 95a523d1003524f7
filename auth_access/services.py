"""Access-control workflows: cards, seen cards and permissions, with who may do what.

Who may do what, beyond the tenancy gate (which already limits the objects one reaches):

- A user adds cards for themselves (their own cards: valid wherever they may charge); owners
  and installers also register cards for members of their installation, at that installation
  (valid only there; ``ChargeCard.installation``). Managers reach only the cards registered at
  their installations, never a member's own cards, so a block or an expiry they set never
  reaches beyond their own chargers.
- Anyone who reaches a card may block it (a holder who lost it, a manager). Unblocking, and
  changing the expiry, of a card that someone else blocked or added is for the managers of the
  installation it is registered at (so a driver cannot undo what their owner decided).
- Deleting a card: its holder, whoever added it, or a manager of its installation; others block
  it instead.
- Permissions are granted and revoked by owners and installers with the role rules of
  ``installations.services.check_may_manage`` (installers do not manage owners); a driver can
  grant nothing, not even to themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from auth_access.models import ChargeCard, ChargerPermission, SeenCard, normalize_id_tag
from installations.choices import Role
from installations.models import Membership
from installations.services import MembershipError, check_may_manage
from portal.tenancy import Action

if TYPE_CHECKING:
    from accounts.models import User
    from chargers.models import Charger
    from installations.models import Installation


class AccessError(Exception):
    """An access-control change the rules do not allow; the message says why (403 in the API)."""


def users_manageable_by(actor: User) -> QuerySet[User]:
    """Users ``actor`` may add cards for: themselves and the members of installations they run."""
    from accounts.models import User

    managed = Membership.objects.restrict(actor, Action.ADMINISTER).values("user_id")
    return User.objects.filter(Q(pk=actor.pk) | Q(pk__in=managed))


def manages_installation(actor: User, installation_id: int | None) -> bool:
    """``actor`` is an owner or installer of the installation (staff: of every one)."""
    if installation_id is None:
        return False
    if actor.is_superuser:
        return True
    return (
        Membership.objects.restrict(actor, Action.ADMINISTER)
        .filter(user=actor, installation_id=installation_id)
        .exists()
    )


def add_card(
    actor: User,
    user: User,
    id_tag: str,
    *,
    installation: Installation | None = None,
    name: str = "",
    expires_at: datetime | None = None,
    is_blocked: bool = False,
) -> ChargeCard:
    """A card for ``user``: their own (no ``installation``, only for themselves), or registered
    at ``installation`` by one of its owners or installers for one of its members."""
    if installation is None:
        if user.pk != actor.pk:
            raise AccessError(
                "Say at which installation you register this card: a card you add for a member"
                " charges only at your installation."
            )
    elif not manages_installation(actor, installation.pk):
        raise AccessError(f"You may not register cards at {installation}.")
    elif not Membership.objects.filter(user=user, installation=installation).exists():
        raise AccessError(f"{user} is not a member of {installation}.")
    card = ChargeCard(
        id_tag=normalize_id_tag(id_tag),
        user=user,
        installation=installation,
        name=name,
        expires_at=expires_at,
        is_blocked=is_blocked,
        blocked_at=timezone.now() if is_blocked else None,
        blocked_by=actor if is_blocked else None,
        created_by=actor,
    )
    card.full_clean(validate_unique=False)  # clean() says it better, upper-case aware
    try:
        with transaction.atomic():
            card.save()
            SeenCard.objects.filter(id_tag=card.id_tag).delete()  # known from now on
    except IntegrityError:  # registered meanwhile
        raise ValidationError({"id_tag": "This card is already registered."}) from None
    return card


def update_card(actor: User, card: ChargeCard, changes: dict[str, Any]) -> ChargeCard:
    """Rename, block/unblock or change the expiry of a card, with the rules of the module."""
    # A holder who does not run the card's installation cannot undo what its managers decided.
    holder_only = actor.pk == card.user_id and not manages_installation(actor, card.installation_id)
    if "is_blocked" in changes and changes["is_blocked"] != card.is_blocked:
        if changes["is_blocked"]:
            card.is_blocked, card.blocked_at, card.blocked_by = True, timezone.now(), actor
        elif holder_only and card.blocked_by_id not in (None, actor.pk):
            raise AccessError("This card was blocked by your installation; ask its owner.")
        else:
            card.is_blocked, card.blocked_at, card.blocked_by = False, None, None
    if "expires_at" in changes and changes["expires_at"] != card.expires_at:
        if holder_only and card.created_by_id not in (None, actor.pk):
            raise AccessError("Your installation set this card's validity; ask its owner.")
        card.expires_at = changes["expires_at"]
    if "name" in changes:
        card.name = changes["name"]
    card.full_clean(validate_unique=False)
    card.save()
    return card


def delete_card(actor: User, card: ChargeCard) -> None:
    if not (
        actor.pk in (card.user_id, card.created_by_id)
        or manages_installation(actor, card.installation_id)
    ):
        raise AccessError(
            "Only the holder or whoever added it may delete a card; block it instead."
        )
    card.delete()


def assign_seen_card(actor: User, seen: SeenCard, user: User, name: str = "") -> ChargeCard:
    """Turn an unknown card seen at a charger into ``user``'s card, in one step: the card is
    created and the idTag leaves every seen list."""
    return add_card(actor, user, seen.id_tag, installation=seen.charger.installation, name=name)


# --- permissions -------------------------------------------------------------------------------


def _check_manages(actor: User, membership: Membership) -> None:
    try:
        check_may_manage(actor, membership.installation, membership.role)
    except MembershipError as error:
        raise AccessError(str(error)) from None
    if membership.user_id == actor.pk and not actor.is_superuser:
        role = membership.installation.role_of(actor)
        if role not in (Role.OWNER, Role.INSTALLER):
            raise AccessError("You cannot grant yourself a permission.")


def grant_charger(actor: User, membership: Membership, charger: Charger) -> ChargerPermission:
    """``membership``'s user may charge on ``charger`` (idempotent)."""
    _check_manages(actor, membership)
    permission = ChargerPermission(membership=membership, charger=charger, granted_by=actor)
    permission.full_clean(validate_unique=False, validate_constraints=False)
    existing, _ = ChargerPermission.objects.get_or_create(
        membership=membership, charger=charger, defaults={"granted_by": actor}
    )
    return existing


def revoke_charger(actor: User, permission: ChargerPermission) -> None:
    _check_manages(actor, permission.membership)
    permission.delete()


def set_charger_permissions(
    actor: User, membership: Membership, chargers: list[Charger]
) -> list[ChargerPermission]:
    """Exactly these chargers for ``membership`` (grants the new ones, revokes the others)."""
    _check_manages(actor, membership)
    wanted = {charger.pk: charger for charger in chargers}
    with transaction.atomic():
        membership.charger_permissions.exclude(charger_id__in=wanted).delete()
        for charger in wanted.values():
            grant_charger(actor, membership, charger)
    return list(membership.charger_permissions.select_related("charger"))


def set_installation_wide(actor: User, membership: Membership, allowed: bool) -> Membership:
    """Grant or revoke charging on the whole installation."""
    _check_manages(actor, membership)
    if membership.may_charge_everywhere != allowed:
        membership.may_charge_everywhere = allowed
        membership.save(update_fields=["may_charge_everywhere"])
    return membership
