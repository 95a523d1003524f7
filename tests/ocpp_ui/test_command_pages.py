"""Pages of the OCPP side: sending commands from the web UI, and the refused-connections list."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commands import routing
from commands.choices import CommandStatus
from commands.models import Command
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt
from portal.redis import get_redis
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _login(client: Client, user: object) -> Client:
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_operator_sends_a_command_and_sees_it_in_the_history(world: World, client: Client) -> None:
    get_redis().set(
        routing.PRESENCE_KEY.format(identity=world.charger_a1.ocpp_identity), "node-x", ex=60
    )
    _login(client, world.ingrid)
    url = f"/chargers/{world.charger_a1.pk}/commands/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Connected" in page.content.decode()
    response = client.post(url, {"action": "Reset", "payload": json.dumps({"type": "Hard"})})
    assert response.status_code == 302
    command = Command.objects.get()
    assert (command.action, command.payload, command.source, command.requested_by) == (
        "Reset", {"type": "Hard"}, "ui", world.ingrid
    )  # fmt: skip
    assert command.status == CommandStatus.PENDING
    assert "ingrid@example.com" in client.get(url).content.decode()


def test_invalid_payload_shows_the_schema_message_and_sends_nothing(
    world: World, client: Client
) -> None:
    _login(client, world.alice)
    url = f"/chargers/{world.charger_a1.pk}/commands/"
    response = client.post(url, {"action": "Reset", "payload": '{"type": "Gentle"}'})
    assert response.status_code == 400
    assert "Gentle" in response.content.decode()
    response = client.post(url, {"action": "Reset", "payload": "{not json"})
    assert response.status_code == 400
    assert not Command.objects.exists()


def test_offline_charger_command_fails_with_a_message(world: World, client: Client) -> None:
    _login(client, world.alice)
    response = client.post(
        f"/chargers/{world.charger_a1.pk}/commands/",
        {"action": "ClearCache", "payload": "{}"},
        follow=True,
    )
    assert "Charger is offline" in response.content.decode()
    assert Command.objects.get().status == CommandStatus.FAILED


@pytest.mark.parametrize("persona", ["dora", "dave", "oscar"])
def test_drivers_and_outsiders_cannot_open_the_command_page(
    world: World, client: Client, persona: str
) -> None:
    _login(client, getattr(world, persona))
    url = f"/chargers/{world.charger_a1.pk}/commands/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "ClearCache", "payload": "{}"}).status_code == 404
    assert not Command.objects.exists()


def test_connection_attempts_page_offers_to_claim_unknown_chargers(
    world: World, client: Client
) -> None:
    now = timezone.now()
    ConnectionAttempt.objects.create(
        identity="NEW-CHARGER-9", reason=AttemptReason.UNKNOWN_IDENTITY, last_seen_at=now
    )
    ConnectionAttempt.objects.create(
        identity="DEPOT-B1", reason=AttemptReason.BAD_PASSWORD, last_seen_at=now
    )
    page = _login(client, world.ingrid).get("/chargers/connection-attempts/").content.decode()
    assert "NEW-CHARGER-9" in page
    assert "Claim" in page
    assert "DEPOT-B1" not in page  # another tenant's charger
    page = _login(Client(), world.dora).get("/chargers/connection-attempts/").content.decode()
    assert "NEW-CHARGER-9" not in page


def test_connection_attempts_come_fifty_a_page(world: World, client: Client) -> None:
    now = timezone.now()
    ConnectionAttempt.objects.bulk_create(
        ConnectionAttempt(
            identity=f"NEW-{n:03d}",
            reason=AttemptReason.UNKNOWN_IDENTITY,
            last_seen_at=now - timedelta(seconds=n),
        )
        for n in range(60)
    )
    client = _login(client, world.ingrid)
    first = client.get("/chargers/connection-attempts/").content.decode()
    assert "NEW-000" in first and "NEW-049" in first and "NEW-050" not in first
    assert "Page 1 of 2" in first
    second = client.get("/chargers/connection-attempts/?page=2").content.decode()
    assert "NEW-059" in second and "NEW-049" not in second


def test_charger_pages_show_live_state_from_redis(world: World, client: Client) -> None:
    get_redis().hset(
        routing.LIVE_KEY.format(charger_id=world.charger_a1.pk),
        mapping={"online": "1", "current_l1": "15.8", "current_l2": "15.9", "current_l3": "0.2",
                 "power_w": "7300", "energy_wh": "123456", "soc_percent": "57"},
    )  # fmt: skip
    _login(client, world.dora)
    detail = client.get(f"/chargers/{world.charger_a1.pk}/").content.decode()
    assert "15.8 / 15.9 / 0.2 A · 7300 W" in detail
    assert "123456 Wh" in detail
    assert "57 %" in detail
    listing = client.get(f"/installations/{world.site_a.pk}/chargers/").content.decode()
    assert "15.8 / 15.9 / 0.2 A" in listing
