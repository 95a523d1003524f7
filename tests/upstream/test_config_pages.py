"""The Upstream tab: owners and installers configure the installation's upstream and a charger's
override; errors are shown by the field; the password is never rendered; drivers and other
tenants get 404; the charger page shows the upstream panel to administrators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from auth_access import egress
from tests.access.fake_dns import FakeDns
from tests.conftest import World
from tests.web.conftest import field_errors
from upstream import outbox
from upstream.choices import LinkState, QueuedAction
from upstream.models import UpstreamLink, UpstreamMessage, UpstreamSettings

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]
PASSWORD = "a-password-of-24-chars!!"
FORM = {
    "enabled": "on",
    "url": "wss://cs.example.com/ocpp",
    "identity": "FB-{identity}",
    "security_profile": "1",
    "password": PASSWORD,
    "ca_certificate": "",
    "authorization": "both",
    "offline_authorization": "refuse",
    "allowed_commands": ["RemoteStartTransaction", "Reset"],
    "charger_down": "unavailable",
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    resolver = FakeDns()
    monkeypatch.setattr(egress, "lookup", resolver)
    return resolver


@pytest.fixture(autouse=True)
def public_only(settings: Any) -> None:
    settings.UPSTREAM_ALLOW_LOCAL = False


@pytest.fixture
def client_as() -> ClientAs:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    monkeypatch.setattr(outbox, "settings_changed", seen.append)
    return seen


def tab(world: World) -> str:
    return f"/installations/{world.site_a.pk}/upstream/"


def test_an_owner_configures_upstream_and_the_password_stays_hidden(
    world: World, client_as: ClientAs, signals: list[int]
) -> None:
    client = client_as(world.alice)
    page = client.get(tab(world))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-current="page"' in html and "Upstream central system" in html
    assert "HARBOUR-A1" in html and "Not bridged" in html

    saved = client.post(tab(world), FORM, follow=True)
    assert saved.status_code == 200
    row = UpstreamSettings.objects.get(installation=world.site_a, charger=None)
    assert (row.url, row.security_profile, row.password) == (FORM["url"], 1, PASSWORD)
    assert row.allowed_commands == ["RemoteStartTransaction", "Reset"]
    assert (row.authorization, row.charger_down) == ("both", "unavailable")
    html = saved.content.decode()
    assert PASSWORD not in html and "A password is stored." in html
    assert signals == [world.site_a.pk]

    kept = client.post(tab(world), {**FORM, "password": "", "paused": "on"})
    assert kept.status_code == 302
    row.refresh_from_db()
    assert row.paused and row.password == PASSWORD  # empty keeps the stored password


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"url": "https://cs.example.com/"}, "url", "ws:// or wss://"),
        ({"url": "ws://192.168.1.10/ocpp"}, "url", "private address"),
        ({"security_profile": "2", "url": "ws://cs.example.com/"}, "security_profile", "wss://"),
        ({"password": "too-short"}, "password", "16 to 40"),
        ({"ca_certificate": "-----BEGIN CERTIFICATE-----\nxx"}, "ca_certificate", "PEM"),
        ({"identity": "FB/{identity}"}, "identity", "not a valid OCPP identity"),
        ({"allowed_commands": ["Reset", "Shutdown"]}, "allowed_commands", "valid choice"),
    ],
)
def test_errors_are_shown_by_the_field(
    world: World, client_as: ClientAs, change: dict[str, Any], field: str, words: str
) -> None:
    answer = client_as(world.ingrid).post(tab(world), {**FORM, **change})
    assert answer.status_code == 200
    errors = field_errors(answer, field)
    if field == "allowed_commands":  # a checkbox group: its errors are under the fieldset
        errors = [answer.content.decode()]
    assert any(words in error for error in errors), errors
    assert PASSWORD not in answer.content.decode()
    assert not UpstreamSettings.objects.exists()


def test_a_charger_override_not_bridged_and_back(
    world: World, client_as: ClientAs, signals: list[int]
) -> None:
    client = client_as(world.alice)
    client.post(tab(world), FORM)
    chosen = client.post(f"{tab(world)}override/", {"charger": world.charger_a2.pk})
    assert chosen.status_code == 302 and chosen.url == f"/chargers/{world.charger_a2.pk}/upstream/"
    form = client.get(chosen.url).content.decode()
    assert "cs.example.com" in form and PASSWORD not in form  # prefilled, not the password

    off = {**FORM, "identity": "", "password": ""}
    off.pop("enabled")
    assert client.post(chosen.url, off).status_code == 302  # profile 1 needs no password off
    override = UpstreamSettings.objects.get(charger=world.charger_a2)
    assert not override.enabled
    html = client.get(tab(world)).content.decode()
    assert "not bridged" in html

    assert client.post(f"/chargers/{world.charger_a2.pk}/upstream/delete/").status_code == 302
    assert not UpstreamSettings.objects.filter(charger=world.charger_a2).exists()
    assert signals == [world.site_a.pk] * 3


def test_status_on_the_tab_and_on_the_charger_page(world: World, client_as: ClientAs) -> None:
    UpstreamSettings.objects.create(installation=world.site_a, url="ws://cs.example.com/ocpp")
    UpstreamLink.objects.create(
        charger=world.charger_a1,
        state=LinkState.REFUSED,
        reason="HTTP 401 from upstream",
        since=timezone.now(),
        last_received_at=timezone.now(),
        last_received_action="RemoteStartTransaction",
    )
    UpstreamMessage.objects.create(
        charger=world.charger_a1, action=QueuedAction.START_TRANSACTION, payload={}
    )
    client = client_as(world.ingrid)
    for url in (tab(world), f"/chargers/{world.charger_a1.pk}/"):
        html = client.get(url).content.decode()
        assert "Refused" in html and "HTTP 401 from upstream" in html, url
        assert "RemoteStartTransaction" in html and "Test connection" in html
    driver_view = client_as(world.dora).get(f"/chargers/{world.charger_a1.pk}/")
    assert driver_view.status_code == 200
    assert "upstream-panel" not in driver_view.content.decode()


def test_drivers_and_other_tenants_get_404(world: World, client_as: ClientAs) -> None:
    UpstreamSettings.objects.create(installation=world.site_a, url="ws://cs.example.com/ocpp")
    urls = [
        tab(world),
        f"/chargers/{world.charger_a1.pk}/upstream/",
    ]
    posts = [
        tab(world),
        f"{tab(world)}delete/",
        f"{tab(world)}override/",
        f"/chargers/{world.charger_a1.pk}/upstream/",
        f"/chargers/{world.charger_a1.pk}/upstream/test/",
        f"/chargers/{world.charger_a1.pk}/upstream/delete/",
    ]
    for user in (world.dora, world.dave, world.oscar):
        client = client_as(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        for url in posts:
            assert client.post(url, FORM).status_code == 404, (user, url)
    # Alice cannot give site B's charger an override through her own installation.
    oscar_charger = f"/chargers/{world.charger_b1.pk}/upstream/"
    assert client_as(world.alice).post(oscar_charger, FORM).status_code == 404
    add = client_as(world.alice).post(f"{tab(world)}override/", {"charger": world.charger_b1.pk})
    assert add.url == tab(world)  # refused: not one of this installation's chargers
    assert UpstreamSettings.objects.count() == 1
    assert (
        "Upstream</a>"
        not in client_as(world.dora).get(f"/installations/{world.site_a.pk}/").content.decode()
    )
