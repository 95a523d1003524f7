"""The Webhooks pages of an installation's settings (test client): add an endpoint and see its
secret once, refusals on the form, the buttons, and 404 for everyone but its administrators."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from installations.choices import Role
from installations.models import Membership
from tests.conftest import World
from tests.webhooks.conftest import Behaviour, Receiver
from webhooks import services
from webhooks.choices import DeliveryStatus
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

Receivers = Callable[..., Receiver]
ClientAs = Callable[[User], Client]


def html(response: Any) -> str:
    return unescape(response.content.decode())


def test_the_settings_page_leads_to_the_webhooks(world: World, client_as: ClientAs) -> None:
    page = html(client_as(world.alice).get(reverse("installations:edit", args=[world.site_a.pk])))
    assert reverse("webhooks:list", args=[world.site_a.pk]) in page


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(
    world: World, client_as: ClientAs, receivers: Receivers
) -> None:
    client = client_as(world.alice)
    receiver = receivers()
    answer = client.post(
        reverse("webhooks:list", args=[world.site_a.pk]),
        {"url": receiver.url, "description": "ERP", "event_types": ["connector.faulted"]},
    )
    endpoint = Endpoint.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("webhooks:detail", args=[endpoint.pk])
    assert (endpoint.description, endpoint.event_types, endpoint.created_by) == (
        "ERP", ["connector.faulted"], world.alice
    )  # fmt: skip
    first = html(client.get(answer["Location"]))
    assert endpoint.secret in first
    second = html(client.get(answer["Location"]))
    assert endpoint.secret not in second and "ERP" in second

    receiver.secret = endpoint.secret
    tested = client.post(reverse("webhooks:test", args=[endpoint.pk]), follow=True)
    assert "The test message was delivered: HTTP 200" in html(tested)
    assert 'data-testid="webhook-deliveries"' in html(tested)

    receiver.behave = lambda: Behaviour(500)
    delivery = Delivery.objects.get()
    again = client.post(reverse("webhooks:redeliver", args=[endpoint.pk, delivery.pk]), follow=True)
    assert f"Delivery {delivery.message_id} failed: HTTP 500." in html(again)

    rotated = client.post(reverse("webhooks:rotate", args=[endpoint.pk]), follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != receiver.secret and endpoint.secret in html(rotated)

    client.post(reverse("webhooks:disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Disabled by Alice Owner.")
    client.post(reverse("webhooks:enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled

    listed = html(client.get(reverse("webhooks:list", args=[world.site_a.pk])))
    text = " ".join(re.sub(r"<[^>]+>", "", listed).split())
    assert "ERP" in text and "0 delivered, 1 failing" in text
    client.post(reverse("webhooks:delete", args=[endpoint.pk]))
    assert not Endpoint.objects.exists()


def test_the_form_refuses_a_private_url(world: World, client_as: ClientAs, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    answer = client_as(world.alice).post(
        reverse("webhooks:list", args=[world.site_a.pk]), {"url": "https://10.1.2.3/in"}
    )
    assert answer.status_code == 200
    assert "10.1.2.3 is a private address" in html(answer)
    assert not Endpoint.objects.exists()


def test_the_log_filters_by_status(world: World, client_as: ClientAs, receivers: Receivers) -> None:
    receiver = receivers(behave=lambda: Behaviour(500))
    endpoint = services.create_endpoint(world.site_a, url=receiver.url)
    receiver.secret = endpoint.secret
    failed = services.send_test(endpoint)
    receiver.behave = lambda: Behaviour(200)
    delivered = services.send_test(endpoint)
    assert (failed.status, delivered.status) == (DeliveryStatus.GAVE_UP, DeliveryStatus.SUCCEEDED)
    page = html(
        client_as(world.alice).get(
            reverse("webhooks:detail", args=[endpoint.pk]), {"status": "gave_up"}
        )
    )
    assert failed.message_id in page and delivered.message_id not in page


@pytest.mark.parametrize("who", ["oscar", "dora", "installer_elsewhere"])
def test_the_pages_are_not_found_for_others(
    world: World, client_as: ClientAs, receivers: Receivers, who: str
) -> None:
    if who == "installer_elsewhere":
        user = User.objects.create_user(email="ivan@example.com", name="Ivan")
        Membership.objects.create(user=user, installation=world.site_c, role=Role.INSTALLER)
    else:
        user = getattr(world, who)
    receiver = receivers()
    endpoint = services.create_endpoint(world.site_a, url=receiver.url)
    delivery = services.send_test(endpoint)
    client = client_as(user)
    assert client.get(reverse("webhooks:list", args=[world.site_a.pk])).status_code == 404
    assert client.get(reverse("webhooks:detail", args=[endpoint.pk])).status_code == 404
    for name in ["test", "rotate", "enable", "disable", "delete"]:
        assert client.post(reverse(f"webhooks:{name}", args=[endpoint.pk])).status_code == 404
    redeliver = reverse("webhooks:redeliver", args=[endpoint.pk, delivery.pk])
    assert client.post(redeliver).status_code == 404
    assert len(receiver.received) == 1 and Endpoint.objects.filter(enabled=True).exists()
