"""The upstream configuration API: an installation's settings and a charger's override (GET, PUT,
PATCH, DELETE), the status with queued counts, validation 400s in the one error shape, the
password never answered, audit without the password, the bridge told on commit, and tenancy
(another tenant, drivers, a read-only token and a token for other installations: 404)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.models import ApiToken, User
from audit.models import AuditEntry
from auth_access import egress
from tests.access.fake_dns import FakeDns
from tests.conftest import World, api_as
from upstream import outbox
from upstream.choices import LinkState, QueuedAction
from upstream.models import UpstreamLink, UpstreamMessage, UpstreamSettings

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-passw0rd-of-20"
GOOD = {
    "url": "wss://cs.example.com/ocpp",
    "security_profile": 2,
    "password": PASSWORD,
    "identity": "FB-{identity}",
    "authorization": "upstream",
    "allowed_commands": ["RemoteStartTransaction", "RemoteStopTransaction"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    resolver = FakeDns()
    monkeypatch.setattr(egress, "lookup", resolver)
    return resolver


@pytest.fixture(autouse=True)
def public_only(settings: Any) -> None:
    settings.UPSTREAM_ALLOW_LOCAL = False  # production's rule


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The installations ``outbox.settings_changed`` was called for."""
    seen: list[int] = []
    monkeypatch.setattr(outbox, "settings_changed", seen.append)
    return seen


def token_client(user: User, **scope: Any) -> APIClient:
    key = f"fbx_scoped_{user.pk}_{'_'.join(sorted(scope))}"
    installations = scope.pop("installations", None)
    token = ApiToken.objects.create(
        key_hash=hash_key(key), user=user, name="scoped", prefix=key[:12], **scope
    )
    if installations is not None:
        token.installations.set(installations)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def site_url(world: World) -> str:
    return f"/api/v1/installations/{world.site_a.pk}/upstream/"


def charger_url(charger_id: int, suffix: str = "") -> str:
    return f"/api/v1/chargers/{charger_id}/upstream/{suffix}"


def test_put_creates_then_get_patch_and_delete(world: World, signals: list[int]) -> None:
    client = api_as(world.alice)
    assert client.get(site_url(world)).status_code == 404  # nothing configured yet

    created = client.put(site_url(world), GOOD, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["url"] == GOOD["url"] and body["security_profile"] == 2
    assert body["has_password"] is True and "password" not in body
    assert body["installation"] == world.site_a.pk and body["charger"] is None
    row = UpstreamSettings.objects.get(installation=world.site_a, charger=None)
    assert row.password == PASSWORD

    patched = client.patch(site_url(world), {"paused": True, "password": ""}, format="json")
    assert patched.status_code == 200 and patched.json()["paused"] is True
    row.refresh_from_db()
    assert row.password == PASSWORD  # empty keeps the stored password

    replaced = client.put(site_url(world), {"url": "ws://cs.example.com/ocpp"}, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["security_profile"] == 0 and replaced.json()["paused"] is False
    assert replaced.json()["allowed_commands"] == UpstreamSettings().allowed_commands

    assert client.delete(site_url(world)).status_code == 204
    assert not UpstreamSettings.objects.filter(installation=world.site_a).exists()
    assert signals == [world.site_a.pk] * 4  # every change reaches the bridge


def test_the_password_is_never_answered_nor_audited(world: World) -> None:
    client = api_as(world.alice)
    answers = [
        client.put(site_url(world), GOOD, format="json"),
        client.get(site_url(world)),
        client.patch(site_url(world), {"password": PASSWORD + "x"}, format="json"),
        client.put(charger_url(world.charger_a1.pk), {**GOOD, "identity": ""}, format="json"),
        client.get(charger_url(world.charger_a1.pk)),
        client.get(f"{site_url(world)}status/"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.json()
        assert PASSWORD not in answer.content.decode()
    entries = AuditEntry.objects.filter(
        installation=world.site_a, object_type__icontains="upstream"
    )
    assert entries.count() >= 3
    text = json.dumps([entry.changes for entry in entries])
    assert PASSWORD not in text and "password" in text  # that it changed, never the value


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"url": "https://cs.example.com/ocpp"}, "url", "ws:// or wss://"),
        ({"url": "ftp://cs.example.com/"}, "url", "ws:// or wss://"),
        ({"url": "ws://127.0.0.1:9000/ocpp"}, "url", "loopback"),
        ({"url": "ws://10.1.2.3/ocpp"}, "url", "private"),
        ({"url": "wss://nowhere.invalid/ocpp"}, "url", "could not be resolved"),
        ({"url": ""}, "url", "Enter the central system"),
        ({"url": "ws://cs.example.com/ocpp"}, "security_profile", "wss://"),
        ({"password": ""}, "password", "need a password"),
        ({"password": "short"}, "password", "16 to 40"),
        ({"password": "x" * 41}, "password", "16 to 40"),
        ({"ca_certificate": "not a certificate"}, "ca_certificate", "PEM"),
        ({"identity": "FB {identity}"}, "identity", "not a valid OCPP identity"),
        ({"identity": "FIXED"}, "identity", "{identity}"),
        ({"allowed_commands": ["Reset", "FormatDisk"]}, "allowed_commands", "FormatDisk"),
        ({"security_profile": 7}, "security_profile", "valid choice"),
    ],
)
def test_bad_settings_answer_400_with_the_field(
    world: World, change: dict[str, Any], field: str, words: str
) -> None:
    answer = api_as(world.alice).put(site_url(world), {**GOOD, **change}, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert words in json.dumps(error["fields"][field]), error
    assert not UpstreamSettings.objects.exists()


def test_a_charger_override_and_not_bridged(world: World, signals: list[int]) -> None:
    client = api_as(world.ingrid)  # installers configure too
    assert client.put(site_url(world), GOOD, format="json").status_code == 201
    off = client.put(charger_url(world.charger_a2.pk), {"enabled": False}, format="json")
    assert off.status_code == 201, off.json()
    assert off.json()["charger"] == world.charger_a2.pk and off.json()["enabled"] is False

    statuses = {s["ocpp_identity"]: s for s in client.get(f"{site_url(world)}status/").json()}
    assert statuses["HARBOUR-A2"]["bridged"] is False
    assert statuses["HARBOUR-A2"]["source"] == "override"
    a1 = statuses["HARBOUR-A1"]
    assert (a1["bridged"], a1["source"], a1["identity"]) == (True, "installation", "FB-HARBOUR-A1")
    assert a1["url"] == "wss://cs.example.com/ocpp/FB-HARBOUR-A1"

    own = {"url": "ws://other.example.com/{identity}/ocpp", "identity": "MY-A2"}
    changed = client.patch(
        charger_url(world.charger_a2.pk), {**own, "enabled": True}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    status = client.get(charger_url(world.charger_a2.pk, "status/")).json()
    assert status["url"] == "ws://other.example.com/MY-A2/ocpp" and status["bridged"] is True

    assert client.delete(charger_url(world.charger_a2.pk)).status_code == 204
    assert client.get(charger_url(world.charger_a2.pk)).status_code == 404
    assert set(signals) == {world.site_a.pk}


def test_the_status_shows_the_link_and_the_queued_count(world: World) -> None:
    client = api_as(world.alice)
    client.put(site_url(world), {"url": "ws://cs.example.com/ocpp"}, format="json")
    now = timezone.now()
    UpstreamLink.objects.create(
        charger=world.charger_a1,
        state=LinkState.REFUSED,
        reason="HTTP 401",
        since=now,
        boot_status="",
        last_sent_at=now,
        last_sent_action="BootNotification",
    )
    for sent_at in (None, None, now):
        UpstreamMessage.objects.create(
            charger=world.charger_a1,
            action=QueuedAction.METER_VALUES,
            payload={},
            sent_at=sent_at,
        )
    status = client.get(charger_url(world.charger_a1.pk, "status/")).json()
    assert (status["state"], status["reason"], status["queued"]) == ("refused", "HTTP 401", 2)
    assert status["last_sent_action"] == "BootNotification" and status["since"]
    other = client.get(charger_url(world.charger_a2.pk, "status/")).json()
    assert (other["state"], other["queued"], other["since"]) == ("", 0, None)


def test_tenancy_other_tenants_drivers_and_limited_tokens(world: World) -> None:
    api_as(world.alice).put(site_url(world), GOOD, format="json")
    api_as(world.alice).put(charger_url(world.charger_a1.pk), {"enabled": False}, format="json")
    urls = [
        site_url(world),
        f"{site_url(world)}status/",
        charger_url(world.charger_a1.pk),
        charger_url(world.charger_a1.pk, "status/"),
    ]
    read_only = token_client(world.alice, read_only=True)
    elsewhere = token_client(world.alice, installations=[world.site_c])
    for client in (api_as(world.oscar), api_as(world.dora), api_as(world.dave), elsewhere):
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.patch(site_url(world), {"paused": True}, format="json").status_code == 404
        assert client.delete(charger_url(world.charger_a1.pk)).status_code == 404
        assert client.post(charger_url(world.charger_a1.pk, "test/")).status_code == 404
    for writer, refused in ((read_only, 403), (api_as(world.dora), 404)):
        assert writer.put(site_url(world), GOOD, format="json").status_code == refused
        assert writer.delete(site_url(world)).status_code == refused
        assert writer.post(charger_url(world.charger_a1.pk, "test/")).status_code == refused
    # Oscar cannot reach site A's charger from his own installation either.
    other = api_as(world.oscar).put(charger_url(world.charger_a1.pk), GOOD, format="json")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    row = UpstreamSettings.objects.get(installation=world.site_a, charger=None)
    assert (row.paused, row.url) == (False, GOOD["url"])
    assert UpstreamSettings.objects.filter(charger=world.charger_a1).exists()


def test_testing_an_unbridged_charger_is_a_conflict(world: World) -> None:
    answer = api_as(world.alice).post(charger_url(world.charger_a1.pk, "test/"))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "not_bridged"


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {**GOOD, "allowed_commands": "Reset"},
        {**GOOD, "security_profile": "two"},
        {**GOOD, "url": "wss://cs.example.com/\x00"},
        {**GOOD, "password": "a-password-with-\x00-nul"},
        {**GOOD, "url": "wss://cs.example.com/" + "x" * 600},
        {**GOOD, "enabled": "perhaps"},
    ],
)
def test_hostile_bodies_answer_400(world: World, body: Any) -> None:
    answer = api_as(world.alice).put(site_url(world), body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid"
    assert not UpstreamSettings.objects.exists()


def test_the_status_costs_the_same_queries_for_more_chargers(
    world: World, django_assert_max_num_queries: Any
) -> None:
    from chargers.services import register_charger
    from installations.services import create_installation

    site = create_installation(world.alice, name="Big depot", main_fuse_a=1000)
    url = f"/api/v1/installations/{site.pk}/upstream/"
    client = api_as(world.alice)
    client.put(url, {"url": "ws://cs.example.com/ocpp"}, format="json")

    def add(number: int) -> None:
        charger, _ = register_charger(
            circuit=site.main_fuse, name=f"Bay {number}", ocpp_identity=f"BAY-{number}"
        )
        UpstreamLink.objects.create(charger=charger, since=timezone.now())

    add(0)
    with django_assert_max_num_queries(20) as few:
        assert client.get(f"{url}status/").status_code == 200
    for number in range(1, 10):
        add(number)
    with django_assert_max_num_queries(len(few.captured_queries)):
        statuses = client.get(f"{url}status/").json()
    assert len(statuses) == 10 and all(s["state"] == "connecting" for s in statuses)
