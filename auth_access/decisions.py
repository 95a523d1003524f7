"""THE authorization function: may this idTag charge on this charger now?

Every Authorize, StartTransaction and StopTransaction, every start from the portal, the local
lists sent to chargers and the enforcement of revocations go through ``authorize()`` (or
``decide()`` on facts gathered the same way). The decision itself is the pure ``decide()`` over
``AccessFacts``; ``situation()`` (or ``gather()``) reads them from the database in one
statement, for one decision or (``situations()``) for all the decisions a bridge has waiting: the
hot path of every Authorize, see docs/benchmarks.md.
An external authorizer, where an installation has one, is asked on top of this (see
``auth_access.checks``).

The rules, in order:

1. The idTag is a card (``ChargeCard``, matched upper-case), a user's virtual idTag (starts from
   the portal, ``auth_access.virtual_tags``), or unknown.
2. Open charger (its own mode, or its installation's when it inherits): anyone is accepted. The
   session is attributed to the holder only when the identification is sound: a card neither
   blocked nor expired nor registered at another installation, or a virtual idTag with its
   remote start.
3. Locked charger: an unknown idTag is Invalid, and so is a card registered at another
   installation (a card an installation registers for a member charges only there); a blocked
   card Blocked; an expired card Expired; a virtual idTag without an open remote start of its
   user on this charger Invalid; a disabled account Blocked; a holder who is not a member of the
   installation Invalid. Owners and
   installers may charge everywhere on their installations; a driver on the whole installation
   (``Membership.may_charge_everywhere``) or on the chargers named for them
   (``ChargerPermission``); anyone else Invalid.

Revocations (a card blocked, a permission or membership removed) apply at the next decision:
nothing is cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from auth_access.choices import AuthorizationStatus
from auth_access.virtual_tags import user_of_virtual_tag
from installations.choices import AuthorizationMode, Role

if TYPE_CHECKING:
    from chargers.models import Charger

__all__ = [
    "AccessFacts",
    "AuthorizationStatus",
    "CardFacts",
    "Decision",
    "ExternalPolicy",
    "HolderFacts",
    "Situation",
    "authorize",
    "decide",
    "effective_mode",
    "gather",
    "situation",
    "situations",
]


@dataclass(frozen=True)
class CardFacts:
    card_id: int
    user_id: int
    is_blocked: bool
    expires_at: datetime | None
    registered_elsewhere: bool = False  # registered at another installation: it charges there only


@dataclass(frozen=True)
class HolderFacts:
    """The card holder's (or virtual idTag user's) standing at the charger's installation."""

    user_id: int
    is_active: bool
    role: Role | None  # None: not a member of the installation
    may_charge_everywhere: bool = False
    has_charger_permission: bool = False


@dataclass(frozen=True)
class AccessFacts:
    """Everything the decision depends on."""

    mode: AuthorizationMode  # the charger's effective mode
    card: CardFacts | None = None
    virtual_user_id: int | None = None  # the idTag is this user's virtual idTag
    remote_start: bool = False  # ... and comes with a remote start of that user on this charger
    holder: HolderFacts | None = None
    charger_overrides_mode: bool = False


@dataclass(frozen=True)
class Decision:
    status: AuthorizationStatus
    reason: str
    user_id: int | None = None  # the session is attributed to this user ...
    card_id: int | None = None  # ... and card
    expires_at: datetime | None = None  # sent to the charger as idTagInfo.expiryDate

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


def decide(facts: AccessFacts, now: datetime) -> Decision:
    """The rules of the module docstring, as a pure function."""
    card = facts.card
    card_valid = (
        card is not None
        and not card.registered_elsewhere
        and not card.is_blocked
        and _unexpired(card.expires_at, now)
    )
    if facts.mode == AuthorizationMode.OPEN:
        where = "open charger" if facts.charger_overrides_mode else "open installation"
        if card is not None and card_valid:
            return Decision(
                AuthorizationStatus.ACCEPTED, where, user_id=card.user_id, card_id=card.card_id
            )
        if facts.virtual_user_id is not None and facts.remote_start:
            return Decision(
                AuthorizationStatus.ACCEPTED,
                f"{where}, remote start",
                user_id=facts.virtual_user_id,
            )
        if card is not None:
            return Decision(
                AuthorizationStatus.ACCEPTED, f"{where} (card not valid: not attributed)"
            )
        return Decision(AuthorizationStatus.ACCEPTED, where)

    if card is None and facts.virtual_user_id is None:
        return Decision(AuthorizationStatus.INVALID, "unknown card")
    ids = {"user_id": card.user_id, "card_id": card.card_id} if card else {}
    if card is not None:
        if card.registered_elsewhere:  # not this installation's business whose card it is
            return Decision(AuthorizationStatus.INVALID, "card registered at another installation")
        if card.is_blocked:
            return Decision(AuthorizationStatus.BLOCKED, "card is blocked", **ids)
        if not _unexpired(card.expires_at, now):
            return Decision(AuthorizationStatus.EXPIRED, "card has expired", **ids)
    elif not facts.remote_start:
        return Decision(AuthorizationStatus.INVALID, "virtual idTag without a remote start here")
    else:
        ids = {"user_id": facts.virtual_user_id}
    holder = facts.holder
    if holder is None:
        return Decision(AuthorizationStatus.INVALID, "unknown user")
    if not holder.is_active:
        return Decision(AuthorizationStatus.BLOCKED, "account is disabled", **ids)
    if holder.role is None:
        return Decision(AuthorizationStatus.INVALID, "not a member of this installation", **ids)
    expiry = {"expires_at": card.expires_at} if card else {}
    if holder.role in (Role.OWNER, Role.INSTALLER):
        reason = f"{holder.role.label.lower()} of this installation"
    elif holder.may_charge_everywhere:
        reason = "may charge on the whole installation"
    elif holder.has_charger_permission:
        reason = "may charge on this charger"
    else:
        return Decision(AuthorizationStatus.INVALID, "not permitted on this charger", **ids)
    if facts.virtual_user_id is not None:
        reason = f"remote start: {reason}"
    return Decision(AuthorizationStatus.ACCEPTED, reason, **ids, **expiry)


def _unexpired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now


def effective_mode(charger: Charger) -> AuthorizationMode:
    """The charger's own mode, or its installation's when it inherits."""
    return _effective(charger.authorization_mode, charger.installation.authorization_mode)


def _effective(charger_mode: str, installation_mode: str) -> AuthorizationMode:
    if charger_mode in (AuthorizationMode.OPEN, AuthorizationMode.LOCKED):
        return AuthorizationMode(charger_mode)
    return AuthorizationMode(installation_mode)


@dataclass(frozen=True)
class ExternalPolicy:
    """An installation's external authorizer, when it is enabled and complete."""

    url: str
    secret: str
    deadline_ms: int
    fallback: str
    require_signed_reply: bool


@dataclass(frozen=True)
class Situation:
    """The facts of one decision, and what a record or an external authorizer is told."""

    facts: AccessFacts
    id_tag: str  # normalized
    charger_id: int
    installation_id: int
    identity: str
    charger_name: str
    installation_name: str
    external: ExternalPolicy | None = None
    card_name: str = ""
    user_email: str = ""
    user_name: str = ""


_FACTS_SQL: str | None = None


def _facts_sql() -> str:
    """One statement for every fact of any number of decisions (the hot path of every
    Authorize): per (charger, idTag) asked, the charger, its installation and policy, the card,
    its holder's account, membership and named permission."""
    global _FACTS_SQL
    if _FACTS_SQL is None:
        from accounts.models import User
        from auth_access.models import AccessPolicy, ChargeCard, ChargerPermission
        from chargers.models import Charger
        from installations.models import Installation, Membership

        t = {m.__name__: m._meta.db_table for m in (
            User, AccessPolicy, ChargeCard, ChargerPermission, Charger, Installation, Membership,
        )}  # fmt: skip
        _FACTS_SQL = f"""
            SELECT q.n, c.id, c.installation_id, c.authorization_mode, c.ocpp_identity, c.name,
                   i.authorization_mode, i.name,
                   p.external_enabled, p.external_url, p.external_secret, p.external_deadline_ms,
                   p.external_fallback, p.external_require_signed_reply,
                   k.id, k.user_id, k.is_blocked, k.expires_at, k.name, k.installation_id,
                   u.id, u.is_active, u.email, u.name,
                   m.role, m.may_charge_everywhere,
                   EXISTS(SELECT 1 FROM "{t["ChargerPermission"]}" cp
                          WHERE cp.membership_id = m.id AND cp.charger_id = c.id)
            FROM unnest(%s::int[], %s::bigint[], %s::text[], %s::bigint[])
                 AS q(n, charger_id, tag, virtual_user_id)
            JOIN "{t["Charger"]}" c ON c.id = q.charger_id
            JOIN "{t["Installation"]}" i ON i.id = c.installation_id
            LEFT JOIN "{t["AccessPolicy"]}" p ON p.installation_id = c.installation_id
            LEFT JOIN "{t["ChargeCard"]}" k ON k.id_tag = q.tag AND q.virtual_user_id IS NULL
            LEFT JOIN "{t["User"]}" u ON u.id = COALESCE(k.user_id, q.virtual_user_id)
            LEFT JOIN "{t["Membership"]}" m
                   ON m.user_id = u.id AND m.installation_id = c.installation_id
        """
    return _FACTS_SQL


def gather(
    charger: Charger, id_tag: str, now: datetime, *, remote_start: bool | None = None
) -> AccessFacts:
    """The facts for ``id_tag`` at ``charger`` (``situation()`` without the rest)."""
    return situation(charger.pk, id_tag, now, remote_start=remote_start).facts


def situation(
    charger_id: int, id_tag: str, now: datetime, *, remote_start: bool | None = None
) -> Situation:
    """The facts for ``id_tag`` at the charger, fresh from the database (one statement; one
    more for a virtual idTag), with what a record or the external authorizer needs.
    ``remote_start``: whether a virtual idTag comes with a remote start (None: look for an open
    one, or the session it started)."""
    from chargers.models import Charger

    (found,) = situations([(charger_id, id_tag)], now, remote_start=remote_start)
    if found is None:
        raise Charger.DoesNotExist(f"No charger {charger_id}")
    return found


def situations(
    asked: Sequence[tuple[int, str]], now: datetime, *, remote_start: bool | None = None
) -> list[Situation | None]:
    """``situation()`` for many (charger id, idTag) pairs in one statement, in their order;
    None where the charger does not exist (any more)."""
    from django.db import connection

    from auth_access.models import normalize_id_tag

    tags = [normalize_id_tag(id_tag) for _, id_tag in asked]
    virtual_users = [user_of_virtual_tag(tag) for tag in tags]
    params = [list(range(len(asked))), [charger_id for charger_id, _ in asked], tags, virtual_users]
    with connection.cursor() as cursor:
        cursor.execute(_facts_sql(), params)
        rows = cursor.fetchall()
    found: list[Situation | None] = [None] * len(asked)
    for n, *row in rows:
        found[n] = _situation(row, tags[n], virtual_users[n], now, remote_start)
    return found


def _situation(
    row: Sequence[Any],
    tag: str,
    virtual_user_id: int | None,
    now: datetime,
    remote_start: bool | None,
) -> Situation:
    (charger_id, installation_id, charger_mode, identity, charger_name, installation_mode,
     site_name, ext_enabled, ext_url, ext_secret, ext_deadline, ext_fallback, ext_signed,
     card_id, card_user, card_blocked, card_expires, card_name, card_installation,
     user_id, user_active, user_email, user_name, role, everywhere, named) = row  # fmt: skip
    card = None
    if card_id is not None:
        elsewhere = card_installation not in (None, installation_id)
        card = CardFacts(card_id, card_user, card_blocked, card_expires, elsewhere)
    if virtual_user_id is not None and remote_start is None:
        remote_start = _remote_start_open(charger_id, virtual_user_id, tag, now)
    holder = None
    if user_id is not None:
        holder = HolderFacts(user_id, user_active, Role(role) if role else None)
        if role:
            holder = replace(holder, may_charge_everywhere=everywhere, has_charger_permission=named)
    external = None
    if ext_enabled and ext_url and ext_secret:
        external = ExternalPolicy(ext_url, ext_secret, ext_deadline, ext_fallback, ext_signed)
    facts = AccessFacts(
        mode=_effective(charger_mode, installation_mode),
        card=card,
        virtual_user_id=virtual_user_id,
        remote_start=bool(remote_start),
        holder=holder,
        charger_overrides_mode=charger_mode in (AuthorizationMode.OPEN, AuthorizationMode.LOCKED),
    )
    return Situation(
        facts=facts,
        id_tag=tag[:20],
        charger_id=charger_id,
        installation_id=installation_id,
        identity=identity,
        charger_name=charger_name,
        installation_name=site_name,
        external=external,
        card_name=card_name or "",
        user_email=user_email or "",
        user_name=user_name or "",
    )


def _remote_start_open(charger_id: int, user_id: int, id_tag: str, now: datetime) -> bool:
    """An unexpired remote start of the user here, or a session in progress it started."""
    from auth_access.choices import RemoteStartStatus
    from auth_access.models import RemoteStart
    from chargers.choices import SessionStatus
    from chargers.models import ChargeSession

    open_start = RemoteStart.objects.filter(
        charger_id=charger_id,
        user_id=user_id,
        expires_at__gt=now,
        status__in=[*RemoteStart.OPEN_STATUSES, RemoteStartStatus.STARTED],
    )
    running = ChargeSession.objects.filter(
        charger_id=charger_id, id_tag=id_tag, status=SessionStatus.ACTIVE
    )
    return open_start.exists() or running.exists()


def authorize(charger: Charger, id_tag: str, now: datetime | None = None) -> Decision:
    """Decide locally for ``id_tag`` at ``charger`` (sync; the bridge calls it on its database
    threads, see ``auth_access.checks`` for the external authorizer and the records)."""
    now = now or timezone.now()
    return decide(situation(charger.pk, id_tag, now).facts, now)
