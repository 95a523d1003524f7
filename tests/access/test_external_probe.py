"""The test request to an installation's external authorizer (``external.send_test``), against a
real local HTTP server, and the API action that sends it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auth_access import external
from auth_access.models import AccessPolicy
from tests.access.authorizer import SECRET, Authorizer, Reply
from tests.conftest import World, api_as

URL = "/api/v1/access-policies/{}/test-external/"


@pytest.fixture
def authorizer(local_authorizers: None) -> Iterator[Authorizer]:
    server = Authorizer().start()
    try:
        yield server
    finally:
        server.stop()


def configure(world: World, url: str, **extra: object) -> AccessPolicy:
    AccessPolicy.objects.filter(installation=world.site_a).update(
        external_url=url, external_secret=SECRET, **extra
    )
    return AccessPolicy.objects.select_related("installation").get(installation=world.site_a)


def test_a_signed_test_request_and_its_answer(world: World, authorizer: Authorizer) -> None:
    authorizer.decide = lambda payload: Reply({"status": "Invalid"})
    result = external.send_test(configure(world, authorizer.url))  # enabled or not
    assert (result.status, result.error, result.answered) == ("Invalid", "", True)
    assert 0 < result.latency_ms < 2000
    [payload] = authorizer.accepted  # signature, timestamp and nonce checked by the verifier
    assert payload["type"] == "test"
    assert payload["installation"] == {"id": world.site_a.pk, "name": "Harbour car park"}


def test_the_deadline_and_the_answer_checks_apply(world: World, authorizer: Authorizer) -> None:
    policy = configure(world, authorizer.url, external_deadline_ms=200)
    authorizer.decide = lambda payload: Reply(delay_s=1.0)
    result = external.send_test(policy)
    assert (result.status, result.error) == (None, "timeout")
    assert 150 < result.latency_ms < 900
    policy = configure(world, authorizer.url, external_require_signed_reply=True)
    authorizer.decide = lambda payload: Reply({"status": "Accepted"})
    assert external.send_test(policy).error == "bad answer signature"


def test_the_url_check_applies(world: World) -> None:
    result = external.send_test(configure(world, "https://localhost:8443/hook"))
    assert result.status is None
    assert result.error.startswith("refused URL: localhost resolves to 127.0.0.1, a loopback")


class TestApi:
    def test_owners_and_installers_send_one(self, world: World, authorizer: Authorizer) -> None:
        configure(world, authorizer.url)
        for persona in (world.alice, world.ingrid):
            response = api_as(persona).post(URL.format(world.site_a.pk))
            assert response.status_code == 200, response.content
            body = response.json()
            assert (body["status"], body["error"]) == ("Accepted", "")
            assert body["latency_ms"] >= 0
        assert len(authorizer.accepted) == 2

    def test_drivers_and_outsiders_cannot(self, world: World, authorizer: Authorizer) -> None:
        configure(world, authorizer.url)
        assert api_as(world.dora).post(URL.format(world.site_a.pk)).status_code in (403, 404)
        assert api_as(world.oscar).post(URL.format(world.site_a.pk)).status_code == 404
        assert authorizer.received == []

    def test_nothing_to_test_without_url_and_secret(self, world: World) -> None:
        response = api_as(world.alice).post(URL.format(world.site_a.pk))
        assert response.status_code == 400
        assert "URL and secret first" in response.content.decode()
