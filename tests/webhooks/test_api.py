"""The webhooks API: CRUD with the secret shown once, rotation, the delivery log, redelivery, the
test message; SSRF refusals and unknown event types answer 400 with a message; tenancy (another
owner, a driver, an installer of another site: 404, nothing listed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from installations.choices import Role
from installations.models import Membership
from tests.conftest import World, api_as
from tests.webhooks.conftest import Behaviour, Receiver, verify
from webhooks import sender, services
from webhooks.choices import DeliveryStatus
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

Receivers = Callable[..., Receiver]
URL = "/api/v1/webhooks/"


def create(world: World, user: User | None = None, **fields: Any) -> Any:
    body = {"installation": world.site_a.pk, "url": "https://hooks.example.com/fusebox", **fields}
    return api_as(user or world.alice).post(URL, body, format="json")


def test_creating_an_endpoint_answers_its_secret_once(world: World) -> None:
    answer = create(world, description="ERP", event_types=["connector.faulted", "charger.offline"])
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["event_types"] == ["charger.offline", "connector.faulted"]
    assert (body["enabled"], body["created_by"], body["description"]) == (
        True, "Alice Owner", "ERP"
    )  # fmt: skip
    endpoint = Endpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"]

    shown = api_as(world.alice).get(f"{URL}{endpoint.pk}/").json()
    assert "secret" not in shown
    assert "secret" not in api_as(world.alice).get(URL).json()["results"][0]

    rotated = api_as(world.alice).post(f"{URL}{endpoint.pk}/rotate-secret/").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != body["secret"]
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated


def test_an_installer_manages_the_endpoints_of_the_site(world: World) -> None:
    endpoint_id = create(world, user=world.ingrid).json()["id"]
    client = api_as(world.ingrid)
    changed = client.patch(f"{URL}{endpoint_id}/", {"enabled": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["disabled_reason"] == "Disabled by Ingrid Installer."
    assert (
        client.patch(f"{URL}{endpoint_id}/", {"enabled": True}, format="json").json()[
            "disabled_reason"
        ]
        == ""
    )
    moved = client.patch(f"{URL}{endpoint_id}/", {"installation": world.site_c.pk}, format="json")
    assert moved.status_code == 400
    assert client.delete(f"{URL}{endpoint_id}/").status_code == 204
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/in", "A webhook URL must be an https:// URL."),
        ("https://10.0.0.5/in", "10.0.0.5 is a private address"),
        ("https://127.0.0.1:8443/in", "127.0.0.1 is a loopback address"),
        ("https://localhost/in", "localhost resolves to 127.0.0.1, a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://[::ffff:192.168.1.2]/in", "resolves to ::ffff:c0a8:102, a private address"),
        ("https://alice:pw@hooks.example.com/in", "Put no user name or password in the URL"),
        ("ftp://hooks.example.com/in", "A webhook URL must be an https:// URL."),
        ("file:///etc/passwd", "Enter a valid URL."),
        ("https://nowhere.invalid/in", "could not be resolved"),
        ("https://hooks.example.com:25/in", "Port 25 is reserved for other services"),
    ],
)
def test_an_unsafe_url_is_refused_with_a_message(
    world: World, settings: Any, url: str, message: str
) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    answer = create(world, url=url)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert any(message in text for text in error["fields"]["url"]), error
    assert "authorizer" not in " ".join(error["fields"]["url"])
    assert not Endpoint.objects.exists()


def test_a_changed_url_is_checked_again(world: World, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    endpoint_id = create(world).json()["id"]
    answer = api_as(world.alice).patch(
        f"{URL}{endpoint_id}/", {"url": "https://192.168.0.10/in"}, format="json"
    )
    assert answer.status_code == 400
    assert "private address" in answer.json()["error"]["fields"]["url"][0]
    assert Endpoint.objects.get().url == "https://hooks.example.com/fusebox"


def test_an_unknown_event_type_is_refused_with_a_message(world: World) -> None:
    answer = create(world, event_types=["connector.faulted", "charger.exploded"])
    assert answer.status_code == 400
    [message] = answer.json()["error"]["fields"]["event_types"]
    assert message == "Unknown event type: charger.exploded (docs/events.md lists them)."


def test_the_test_message_the_log_and_redelivery(world: World, receivers: Receivers) -> None:
    receiver = receivers()
    created = create(world, url=receiver.url).json()
    receiver.secret = created["secret"]
    client = api_as(world.alice)
    base = f"{URL}{created['id']}/"

    test = client.post(f"{base}test/")
    assert test.status_code == 201
    assert (test.json()["status"], test.json()["response_code"]) == ("succeeded", 200)
    assert receiver.events[0]["type"] == "webhook.test"

    receiver.behave = lambda: Behaviour(500, b"nope")
    failed = client.post(f"{base}test/").json()
    assert (failed["status"], failed["response_code"], failed["last_error"]) == (
        "gave_up", 500, "HTTP 500"
    )  # fmt: skip
    assert failed["response_excerpt"] == "nope"

    log = client.get(f"{base}deliveries/").json()
    assert [d["id"] for d in log["results"]] == [failed["id"], test.json()["id"]]
    only_failed = client.get(f"{base}deliveries/", {"status": "gave_up"}).json()
    assert [d["id"] for d in only_failed["results"]] == [failed["id"]]
    bad_filter = client.get(f"{base}deliveries/", {"status": "exploded"})
    assert bad_filter.status_code == 400
    assert "status" in bad_filter.json()["error"]["fields"]

    receiver.behave = lambda: Behaviour(200)
    again = client.post(f"{base}deliveries/{failed['id']}/redeliver/").json()
    assert (again["status"], again["attempts"], again["webhook_id"]) == (
        "succeeded", 2, failed["webhook_id"]
    )  # fmt: skip
    assert [r.headers["webhook-id"] for r in receiver.received][1:] == [failed["webhook_id"]] * 2
    for got in receiver.received:
        assert verify(receiver.secret, got.headers, got.body) == got.event


def test_a_redelivery_of_another_endpoints_delivery_is_not_found(
    world: World, receivers: Receivers
) -> None:
    mine = services.create_endpoint(world.site_a, url=receivers().url)
    other = services.create_endpoint(world.site_a, url=receivers().url)
    delivery = services.send_test(other)
    answer = api_as(world.alice).post(f"{URL}{mine.pk}/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 404


@pytest.fixture
def installer_elsewhere(world: World) -> User:
    """An installer of site C only (another owner's site)."""
    user = User.objects.create_user(email="ivan@example.com", name="Ivan Elsewhere")
    Membership.objects.create(user=user, installation=world.site_c, role=Role.INSTALLER)
    return user


@pytest.mark.parametrize("who", ["oscar", "dora", "dave", "installer_elsewhere"])
def test_nobody_outside_the_site_or_a_driver_sees_or_touches_an_endpoint(
    world: World, receivers: Receivers, who: str, request: pytest.FixtureRequest
) -> None:
    user = (
        request.getfixturevalue("installer_elsewhere")
        if who == "installer_elsewhere"
        else getattr(world, who)
    )
    receiver = receivers()
    endpoint = services.create_endpoint(world.site_a, url=receiver.url)
    delivery = services.send_test(endpoint)
    client = api_as(user)
    base = f"{URL}{endpoint.pk}/"

    assert client.get(URL).json()["results"] == []
    for answer in [
        client.get(base),
        client.patch(base, {"enabled": False}, format="json"),
        client.delete(base),
        client.post(f"{base}rotate-secret/"),
        client.get(f"{base}deliveries/"),
        client.post(f"{base}deliveries/{delivery.pk}/redeliver/"),
        client.post(f"{base}test/"),
    ]:
        assert answer.status_code == 404, answer.json()
        assert answer.json()["error"]["code"] == "not_found"
    # Nor can they make one on site A.
    refused = create(world, user=user, url=receiver.url)
    assert refused.status_code == 400
    assert "installation" in refused.json()["error"]["fields"]
    endpoint.refresh_from_db()
    assert endpoint.enabled and len(receiver.received) == 1
    assert Delivery.objects.get().attempts == 1


def test_the_endpoints_of_each_installation_are_listed_to_its_administrators_only(
    world: World,
) -> None:
    a = services.create_endpoint(world.site_a, url="https://a.example.com/in")
    b = services.create_endpoint(world.site_b, url="https://b.example.com/in")
    assert [e["id"] for e in api_as(world.alice).get(URL).json()["results"]] == [a.pk]
    assert [e["id"] for e in api_as(world.oscar).get(URL).json()["results"]] == [b.pk]
    assert [e["id"] for e in api_as(world.ingrid).get(URL).json()["results"]] == [a.pk]
    filtered = api_as(world.ingrid).get(URL, {"installation": world.site_b.pk}).json()
    assert filtered["results"] == []


def test_the_schema_lists_the_webhook_routes(world: World) -> None:
    schema = api_as(world.alice).get("/api/v1/schema/", {"format": "json"}).json()
    for path in [
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/webhooks/{id}/rotate-secret/",
        "/api/v1/webhooks/{id}/deliveries/",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver/",
        "/api/v1/webhooks/{id}/test/",
    ]:
        assert path in schema["paths"], path


def test_a_pending_delivery_to_an_endpoint_under_way_waits_for_the_sender(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers()
    endpoint = services.create_endpoint(world.site_a, url=receiver.url)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        busy_until=timezone.now() + sender.lease()
    )  # another worker is sending to it
    delivery = services.send_test(endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert receiver.received == []
