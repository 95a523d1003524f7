"""The "Send a test request" button of the Access tab's external authorizer page, against a real
local HTTP server: the outcome (status, time, reason) is shown on the page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from auth_access.models import AccessPolicy
from tests.access.authorizer import SECRET, Authorizer, Reply
from tests.conftest import World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[User], Client]


@pytest.fixture
def authorizer(local_authorizers: None) -> Iterator[Authorizer]:
    server = Authorizer().start()
    try:
        yield server
    finally:
        server.stop()


def configure(world: World, url: str, **extra: object) -> None:
    AccessPolicy.objects.filter(installation=world.site_a).update(
        external_url=url, external_secret=SECRET, **extra
    )


def page(world: World) -> str:
    return reverse("access:external", args=[world.site_a.pk])


def send(client: Client, world: World) -> str:
    response = client.post(reverse("access:external_test", args=[world.site_a.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_the_button_sends_a_test_request_and_shows_the_answer(
    world: World, client_as: ClientAs, authorizer: Authorizer
) -> None:
    configure(world, authorizer.url)
    client = client_as(world.alice)
    assert "Send a test request</button>" in unescape(client.get(page(world)).content.decode())
    html = send(client, world)
    assert 'data-probe="answered"' in html and "Answered Accepted</strong> in" in html
    assert [p["type"] for p in authorizer.accepted] == ["test"]
    assert 'id="id_external_url"' in html and "This field is required" not in html  # untouched


def test_a_failure_shows_the_reason_and_what_would_happen(
    world: World, client_as: ClientAs, authorizer: Authorizer
) -> None:
    configure(world, authorizer.url, external_deadline_ms=200, external_fallback="refuse")
    authorizer.decide = lambda payload: Reply(delay_s=1.0)
    html = send(client_as(world.ingrid), world)
    assert 'data-probe="failed"' in html and "<strong>No valid answer</strong> after" in html
    assert "<span data-probe-reason>timeout</span>" in html
    assert "the fallback would decide (refuse everyone)" in html


def test_an_internal_address_is_refused_before_anything_is_sent(
    world: World, client_as: ClientAs
) -> None:
    configure(world, "https://localhost:8443/hook")
    html = send(client_as(world.alice), world)
    assert "refused URL: localhost resolves to 127.0.0.1, a loopback address" in html


def test_without_url_and_secret_there_is_nothing_to_send(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    html = unescape(client.get(page(world)).content.decode())
    assert "Send a test request</button>" not in html and "Save a webhook URL and a secret" in html
    response = client.post(reverse("access:external_test", args=[world.site_a.pk]), follow=True)
    assert "Save a webhook URL and a secret first." in unescape(response.content.decode())


@pytest.mark.parametrize("persona", ["dora", "oscar"])
def test_drivers_and_outsiders_get_a_404(
    world: World, client_as: ClientAs, authorizer: Authorizer, persona: str
) -> None:
    configure(world, authorizer.url)
    response = client_as(getattr(world, persona)).post(
        reverse("access:external_test", args=[world.site_a.pk])
    )
    assert response.status_code == 404
    assert authorizer.received == []
