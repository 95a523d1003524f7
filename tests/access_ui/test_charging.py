"""Start and stop charging from a charger's page: the buttons each persona sees, the start
going through the command path (pending, accepted, started, or rejected), the panel reloading
itself while it waits, and stopping one's own session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from auth_access import charging_views
from auth_access.choices import FallbackPolicy, RemoteStartStatus
from auth_access.models import AccessPolicy, AuthorizationRecord, RemoteStart
from chargers.choices import ConnectorStatus
from chargers.models import Charger, ChargeSession
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from tests.access_ui.conftest import put_online
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


def detail(charger: Charger) -> str:
    return reverse("chargers:detail", args=[charger.pk])


def panel(client: Client, charger: Charger) -> str:
    response = client.get(reverse("access:charging_panel", args=[charger.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def start(client: Client, charger: Charger, connector: int = 1) -> object:
    url = reverse("access:charging_start", args=[charger.pk])
    return client.post(url, {"connector_id": connector})


def running(charger: Charger, user: User, connector: int = 1) -> ChargeSession:
    return ChargeSession.objects.create(
        charger=charger,
        connector=charger.connectors.get(connector_id=connector),
        id_tag="DORA-1",
        user=user,
        started_at=timezone.now(),
        meter_start_wh=0,
        energy_wh=4200,
    )


@pytest.mark.parametrize("persona", ["alice", "ingrid", "dora", "dave"])
def test_everyone_who_may_charge_sees_start_on_a_free_connector(
    world: World, client_as: ClientAs, persona: str
) -> None:
    put_online(world.charger_a1)
    response = client_as(getattr(world, persona)).get(detail(world.charger_a1))
    html = unescape(response.content.decode())
    assert 'id="charging"' in html and "js/access" in html
    assert 'aria-label="Start charging on connector 1"' in html
    assert "Stop charging" not in html


def test_no_start_while_the_charger_is_offline_or_the_connector_busy(
    world: World, client_as: ClientAs
) -> None:
    html = panel(client_as(world.dora), world.charger_a2)
    assert "The charger is offline" in html and 'aria-label="Start charging' not in html
    put_online(world.charger_a2, ConnectorStatus.FAULTED, ConnectorStatus.AVAILABLE)
    html = panel(client_as(world.dora), world.charger_a2)
    assert 'aria-label="Start charging on connector 2"' in html
    assert 'aria-label="Start charging on connector 1"' not in html


def test_a_driver_starts_and_follows_the_outcome(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    client = client_as(world.dora)
    response = start(client, world.charger_a1)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == detail(world.charger_a1) + "#charging"  # type: ignore[index]
    remote_start = RemoteStart.objects.get()
    assert (remote_start.user, remote_start.connector_id) == (world.dora, 1)
    command = remote_start.command
    assert command.action == CommandAction.REMOTE_START_TRANSACTION
    assert command.source == "ui" and command.requested_by == world.dora
    assert AuthorizationRecord.objects.get().source == "remote_start"  # decided and recorded

    # Pending: the page says so and asks to be polled.
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert 'data-start-state="pending"' in html and 'data-poll-ms="1500"' in html
    assert "Waiting for the charger to answer (connector 1)…" in html and "Check again" in html

    # The charger accepts: plug in the car; still polling (until the session starts).
    Command.objects.filter(pk=command.pk).update(status=CommandStatus.ACCEPTED)
    html = panel(client, world.charger_a1)
    assert 'data-start-state="accepted"' in html and "plug in your car" in html
    assert 'data-poll-ms="1500"' in html

    # The car is plugged in: StartTransaction with the virtual idTag started the session.
    session = running(world.charger_a1, world.dora)
    RemoteStart.objects.filter(pk=remote_start.pk).update(
        status=RemoteStartStatus.STARTED, session=session
    )
    world.charger_a1.connectors.update(status=ConnectorStatus.CHARGING)
    html = panel(client, world.charger_a1)
    assert 'data-start-state="started"' in html and "Charging started on connector 1." in html
    assert "You are charging since" in html and "4200 Wh" in html
    assert 'aria-label="Stop charging on connector 1"' in html
    assert 'aria-label="Start charging' not in html
    assert 'data-poll-ms="10000"' in html  # slower while charging


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (CommandStatus.REJECTED, "", "The charger rejected the start."),
        (CommandStatus.TIMED_OUT, "No answer from the charger in time.", "No answer"),
    ],
)
def test_a_start_the_charger_refuses_is_shown_as_rejected(
    world: World, client_as: ClientAs, status: str, error: str, text: str
) -> None:
    put_online(world.charger_a1)
    client = client_as(world.dora)
    start(client, world.charger_a1)
    Command.objects.update(status=status, error=error)
    html = panel(client, world.charger_a1)
    assert 'data-start-state="rejected"' in html and "Not started on connector 1." in html
    assert text in html and "data-poll-ms" not in html  # final: no more polling
    # The panel stored what it found: the API and the sweep see the same.
    assert RemoteStart.objects.get().status == RemoteStartStatus.FAILED


def test_a_start_without_a_car_in_time_is_shown_as_expired_and_stored(
    world: World, client_as: ClientAs
) -> None:
    put_online(world.charger_a1)
    client = client_as(world.dora)
    start(client, world.charger_a1)
    Command.objects.update(status=CommandStatus.ACCEPTED)
    assert 'data-start-state="accepted"' in panel(client, world.charger_a1)
    now = timezone.now()
    RemoteStart.objects.update(
        created_at=now - timedelta(minutes=4), expires_at=now - timedelta(seconds=1)
    )
    html = panel(client, world.charger_a1)
    assert 'data-start-state="expired"' in html and "No car was plugged in in time." in html
    assert RemoteStart.objects.get().status == RemoteStartStatus.EXPIRED


def test_a_charger_that_went_away_rejects_at_once(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    from portal.redis import get_redis

    get_redis().flushdb()  # the bridge lost it a moment ago; the page still said online
    client = client_as(world.dora)
    start(client, world.charger_a1)
    assert RemoteStart.objects.get().status == RemoteStartStatus.FAILED
    html = panel(client, world.charger_a1)
    assert 'data-start-state="rejected"' in html and "Charger is offline." in html


def test_a_refused_start_says_why(world: World, client_as: ClientAs) -> None:
    """The external authorizer cannot be reached and its fallback refuses everyone."""
    put_online(world.charger_a1)
    AccessPolicy.objects.filter(installation=world.site_a).update(
        external_enabled=True,
        external_url="https://127.0.0.1:9/",
        external_secret="0123456789abcdef",
        external_deadline_ms=300,
        external_fallback=FallbackPolicy.REFUSE,
    )
    client = client_as(world.dora)
    start(client, world.charger_a1)
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert "You may not charge on A1: external authorizer failed" in html
    assert RemoteStart.objects.get().status == RemoteStartStatus.REFUSED
    assert not Command.objects.exists()
    assert "data-start-state" not in html  # said once, as the message


def test_a_busy_connector_cannot_be_started(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    running(world.charger_a1, world.dora)
    client = client_as(world.alice)
    start(client, world.charger_a1)
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert "Connector 1 of A1 is already charging." in html
    assert not RemoteStart.objects.exists()


def test_drivers_reach_only_the_chargers_they_may_use(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a2)
    dave = client_as(world.dave)
    assert dave.get(reverse("access:charging_panel", args=[world.charger_a2.pk])).status_code == 404
    assert start(dave, world.charger_a2).status_code == 404  # type: ignore[attr-defined]
    oscar = client_as(world.oscar)
    assert start(oscar, world.charger_a1).status_code == 404  # type: ignore[attr-defined]
    assert not RemoteStart.objects.exists() and not Command.objects.exists()


def test_a_driver_stops_their_own_session(
    world: World, client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_online(world.charger_a1, ConnectorStatus.CHARGING)
    session = running(world.charger_a1, world.dora)

    def charger_accepts(command: Command, timeout_s: float) -> Command:
        Command.objects.filter(pk=command.pk).update(status=CommandStatus.ACCEPTED)
        command.refresh_from_db()
        return command

    monkeypatch.setattr(charging_views.routing, "wait_for_command", charger_accepts)
    client = client_as(world.dora)
    response = client.post(reverse("access:charging_stop", args=[session.pk]))
    assert response["Location"] == detail(world.charger_a1) + "#charging"
    command = Command.objects.get()
    assert command.action == CommandAction.REMOTE_STOP_TRANSACTION
    assert command.payload == {"transactionId": session.pk}
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert "A1 accepted the stop; the session ends as soon as it reports it." in html


def test_a_stop_without_an_answer_yet_says_it_waits(
    world: World, client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_online(world.charger_a1, ConnectorStatus.CHARGING)
    session = running(world.charger_a1, world.dora)
    monkeypatch.setattr(charging_views, "STOP_WAIT_S", 0.1)
    client = client_as(world.dora)
    client.post(reverse("access:charging_stop", args=[session.pk]))
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert "Stop sent to A1; waiting for its answer." in html


def test_a_stop_to_an_offline_charger_fails_with_the_reason(
    world: World, client_as: ClientAs
) -> None:
    session = running(world.charger_a1, world.dora)
    client = client_as(world.dora)
    client.post(reverse("access:charging_stop", args=[session.pk]))
    html = unescape(client.get(detail(world.charger_a1)).content.decode())
    assert "A1 did not stop charging: Charger is offline." in html


def test_only_the_holder_and_operators_may_stop_a_session(
    world: World, client_as: ClientAs
) -> None:
    put_online(world.charger_a1, ConnectorStatus.CHARGING)
    session = running(world.charger_a1, world.dora)
    stop = reverse("access:charging_stop", args=[session.pk])
    assert client_as(world.dave).post(stop).status_code == 404  # another driver's session
    assert client_as(world.oscar).post(stop).status_code == 404
    html = panel(client_as(world.dave), world.charger_a1)
    assert "Stop charging" not in html and "Dora" not in html
    html = panel(client_as(world.alice), world.charger_a1)  # the owner operates the charger
    assert "Dora Driver is charging since" in html
    assert 'aria-label="Stop charging on connector 1"' in html
    assert not Command.objects.exists()


def test_a_session_without_an_account_is_someone_charging(
    world: World, client_as: ClientAs
) -> None:
    """An open installation's session of an unknown card has no user: the panel and the page
    still show (a failed lookup in a filter argument raised and made both a 500)."""
    put_online(world.charger_a1)
    running(world.charger_a1, None)  # type: ignore[arg-type]
    assert "Someone is charging" in panel(client_as(world.alice), world.charger_a1)
    assert client_as(world.alice).get(detail(world.charger_a1)).status_code == 200
