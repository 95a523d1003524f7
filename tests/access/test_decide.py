"""``decide()`` as a table: the rules of access control without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth_access.choices import AuthorizationStatus as S
from auth_access.decisions import AccessFacts, CardFacts, Decision, HolderFacts, decide
from installations.choices import AuthorizationMode, Role

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
EARLIER = NOW - timedelta(seconds=1)
OPEN, LOCKED = AuthorizationMode.OPEN, AuthorizationMode.LOCKED

CARD = CardFacts(card_id=7, user_id=3, is_blocked=False, expires_at=None)
CARD_UNTIL = CardFacts(card_id=7, user_id=3, is_blocked=False, expires_at=LATER)
BLOCKED = CardFacts(card_id=7, user_id=3, is_blocked=True, expires_at=None)
EXPIRED = CardFacts(card_id=7, user_id=3, is_blocked=False, expires_at=EARLIER)
EXPIRES_NOW = CardFacts(card_id=7, user_id=3, is_blocked=False, expires_at=NOW)
ELSEWHERE = CardFacts(card_id=7, user_id=3, is_blocked=False, expires_at=None,
                      registered_elsewhere=True)  # fmt: skip

OWNER = HolderFacts(3, True, Role.OWNER)
INSTALLER = HolderFacts(3, True, Role.INSTALLER)
EVERYWHERE = HolderFacts(3, True, Role.DRIVER, may_charge_everywhere=True)
NAMED = HolderFacts(3, True, Role.DRIVER, has_charger_permission=True)
NOWHERE = HolderFacts(3, True, Role.DRIVER)
OUTSIDER = HolderFacts(3, True, None)
DISABLED = HolderFacts(3, False, Role.DRIVER, may_charge_everywhere=True)

# (case, facts, status, reason, user attributed, card attributed)
TABLE: list[tuple[str, AccessFacts, S, str, int | None, int | None]] = [
    # open: anyone, attributed only with a sound identification
    ("open, unknown", AccessFacts(OPEN), S.ACCEPTED, "open installation", None, None),
    ("open, card", AccessFacts(OPEN, CARD), S.ACCEPTED, "open installation", 3, 7),
    ("open charger override", AccessFacts(OPEN, CARD, charger_overrides_mode=True),
     S.ACCEPTED, "open charger", 3, 7),
    ("open, blocked card", AccessFacts(OPEN, BLOCKED), S.ACCEPTED,
     "open installation (card not valid: not attributed)", None, None),
    ("open, expired card", AccessFacts(OPEN, EXPIRED), S.ACCEPTED,
     "open installation (card not valid: not attributed)", None, None),
    ("open, virtual with remote start", AccessFacts(OPEN, virtual_user_id=9, remote_start=True),
     S.ACCEPTED, "open installation, remote start", 9, None),
    ("open, virtual without", AccessFacts(OPEN, virtual_user_id=9), S.ACCEPTED,
     "open installation", None, None),
    ("open, card registered at another installation", AccessFacts(OPEN, ELSEWHERE), S.ACCEPTED,
     "open installation (card not valid: not attributed)", None, None),
    # locked: cards
    ("unknown card", AccessFacts(LOCKED), S.INVALID, "unknown card", None, None),
    ("card registered at another installation", AccessFacts(LOCKED, ELSEWHERE, holder=OWNER),
     S.INVALID, "card registered at another installation", None, None),
    ("blocked", AccessFacts(LOCKED, BLOCKED, holder=OWNER), S.BLOCKED, "card is blocked", 3, 7),
    ("expired", AccessFacts(LOCKED, EXPIRED, holder=OWNER), S.EXPIRED, "card has expired", 3, 7),
    ("expires this instant", AccessFacts(LOCKED, EXPIRES_NOW, holder=OWNER), S.EXPIRED,
     "card has expired", 3, 7),
    ("owner", AccessFacts(LOCKED, CARD, holder=OWNER), S.ACCEPTED,
     "owner of this installation", 3, 7),
    ("installer", AccessFacts(LOCKED, CARD, holder=INSTALLER), S.ACCEPTED,
     "installer of this installation", 3, 7),
    ("installation-wide driver", AccessFacts(LOCKED, CARD, holder=EVERYWHERE), S.ACCEPTED,
     "may charge on the whole installation", 3, 7),
    ("driver named on the charger", AccessFacts(LOCKED, CARD, holder=NAMED), S.ACCEPTED,
     "may charge on this charger", 3, 7),
    ("driver on other chargers", AccessFacts(LOCKED, CARD, holder=NOWHERE), S.INVALID,
     "not permitted on this charger", 3, 7),
    ("not a member", AccessFacts(LOCKED, CARD, holder=OUTSIDER), S.INVALID,
     "not a member of this installation", 3, 7),
    ("disabled account", AccessFacts(LOCKED, CARD, holder=DISABLED), S.BLOCKED,
     "account is disabled", 3, 7),
    ("blocked beats membership", AccessFacts(LOCKED, BLOCKED, holder=EVERYWHERE), S.BLOCKED,
     "card is blocked", 3, 7),
    # locked: virtual idTags (starts from the portal)
    ("virtual without remote start", AccessFacts(LOCKED, virtual_user_id=3, holder=OWNER),
     S.INVALID, "virtual idTag without a remote start here", None, None),
    ("virtual, permitted", AccessFacts(LOCKED, virtual_user_id=3, remote_start=True,
     holder=NAMED), S.ACCEPTED, "remote start: may charge on this charger", 3, None),
    ("virtual, not permitted", AccessFacts(LOCKED, virtual_user_id=3, remote_start=True,
     holder=NOWHERE), S.INVALID, "not permitted on this charger", 3, None),
    ("virtual, deleted user", AccessFacts(LOCKED, virtual_user_id=3, remote_start=True),
     S.INVALID, "unknown user", None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("facts", "status", "reason", "user_id", "card_id"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_decide(
    facts: AccessFacts, status: S, reason: str, user_id: int | None, card_id: int | None
) -> None:
    decision = decide(facts, NOW)
    assert (decision.status, decision.reason) == (status, reason)
    assert (decision.user_id, decision.card_id) == (user_id, card_id)


def test_an_accepted_card_carries_its_expiry_to_the_charger() -> None:
    decision = decide(AccessFacts(LOCKED, CARD_UNTIL, holder=EVERYWHERE), NOW)
    assert decision == Decision(
        S.ACCEPTED, "may charge on the whole installation", user_id=3, card_id=7, expires_at=LATER
    )
    assert decide(AccessFacts(OPEN, CARD_UNTIL), NOW).expires_at is None


def test_decide_is_pure() -> None:
    facts = AccessFacts(LOCKED, CARD, holder=NAMED)
    assert decide(facts, NOW) == decide(facts, NOW)
