"""Helpers of the access-control UI tests: seen cards, decisions, a charger that is online (a
bridge node holds it), and the browser fixtures of tests/web (re-exported so the browser test
here shares their setup)."""

from __future__ import annotations

from datetime import datetime
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from auth_access.choices import AuthorizationStatus, AuthorizationTrigger, DecisionSource
from auth_access.models import AuthorizationRecord, SeenCard
from chargers.choices import ConnectorStatus
from chargers.models import Charger
from commands import routing
from installations.choices import Role
from installations.models import Membership
from portal.redis import get_redis
from tests.access.conftest import fake_dns, local_authorizers  # noqa: F401
from tests.conftest import World
from tests.web.conftest import (  # noqa: F401
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Presence keys of earlier tests must not make an offline charger look online."""
    get_redis().flushdb()


def put_online(charger: Charger, *statuses: ConnectorStatus) -> None:
    """The charger is connected to a bridge node; its connectors report ``statuses``."""
    Charger.objects.filter(pk=charger.pk).update(is_online=True, last_seen_at=timezone.now())
    for number, status in enumerate(statuses or [ConnectorStatus.AVAILABLE], start=1):
        charger.connectors.filter(connector_id=number).update(status=status)
    get_redis().set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), "node-t", ex=60)
    charger.refresh_from_db()


def field_html(html: str, field_id: str) -> str:
    """The markup of one form field (its label, input, help and errors) in a page."""
    start = html.index(f'<label for="{field_id}">')
    ends = [html.find(mark, start + 1) for mark in ('<div class="field', "<fieldset", "</form>")]
    return html[start : min(end for end in ends if end > 0)]


def see_card(charger: Charger, id_tag: str, times: int = 1, at: datetime | None = None) -> None:
    """``id_tag`` was shown ``times`` times at ``charger`` (as the bridge records it)."""
    for _ in range(times):
        SeenCard.record(charger.pk, id_tag, at or timezone.now())


def decision(
    charger: Charger,
    id_tag: str,
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
    *,
    reason: str = "may charge on the whole installation",
    user: object = None,
    at: datetime | None = None,
    source: DecisionSource = DecisionSource.LOCAL,
) -> AuthorizationRecord:
    return AuthorizationRecord.objects.create(
        installation_id=charger.installation_id,
        charger=charger,
        connector_id=1,
        id_tag=id_tag,
        user=user,
        trigger=AuthorizationTrigger.AUTHORIZE,
        status=status,
        reason=reason,
        source=source,
        latency_ms=1.234,
        created_at=at or timezone.now(),
    )


def a_crowd(world: World) -> list[str]:
    """56 more members of site A (a housing cooperative): one more installer and 55 drivers, some
    named in capitals, some not named at all. Returns all members' e-mails in the page's order."""
    zed = []
    for n in range(55):
        name = "" if n % 5 == 0 else (f"ZED{n:02d}" if n % 2 else f"zed{n:02d}")
        user = User.objects.create_user(email=f"zed{n:02d}@example.com", name=name)
        role = Role.INSTALLER if n == 50 else Role.DRIVER  # an installer comes before drivers
        Membership.objects.create(user=user, installation=world.site_a, role=role)
        zed.append(user.email)
    aaron = User.objects.create_user(email="aaron@example.com")  # no name: sorted by e-mail
    Membership.objects.create(user=aaron, installation=world.site_a, role=Role.DRIVER)
    zed.remove("zed50@example.com")
    return [
        *("alice@example.com", "ingrid@example.com", "zed50@example.com"),
        *("aaron@example.com", "dave@example.com", "dora@example.com"),
        *zed,
    ]


def url(name: str, world: World, *args: int) -> str:
    return reverse(f"access:{name}", args=[world.site_a.pk, *args])


def html_of(response: object) -> str:
    return unescape(response.content.decode())  # type: ignore[attr-defined]


def membership(world: World, user: User) -> Membership:
    return Membership.objects.get(user=user, installation=world.site_a)
