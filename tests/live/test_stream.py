"""The live endpoint over the real ASGI server: changes published by the bridge's presence
writer and by ``publish_change`` arrive as ``event: change``; other tenants get 404; a driver
hears only of the chargers the page shows them; heartbeats; the subscription ends with the client;
balancing signals a decision that sent limits; events (a session, a fault) are signalled at their
commit with their types."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from auth_access.models import ChargerPermission
from balancing import service
from balancing.models import BalancingTrigger
from installations.models import Installation, Membership
from portal import live, live_views
from portal.redis import get_redis
from tests.balancing_loop.test_loop import _plug_in
from tests.conftest import World
from tests.live.conftest import EventStream, open_stream
from tests.ocpp.conftest import BridgeHandle, Chargers

STATUS = {"connectorId": 1, "errorCode": "NoError"}
NOW = "2026-12-04T12:00:00Z"


def _stream(asgi_server: str, world: World, user: object) -> EventStream:
    stream = open_stream(asgi_server, f"/installations/{world.site_a.pk}/live/", user)  # type: ignore[arg-type]
    assert isinstance(stream, EventStream), stream
    return stream


def _chargers_of(event: dict[str, str]) -> list[int]:
    assert event["event"] == "change", event
    return json.loads(event["data"])["chargers"]


def test_a_published_change_reaches_the_owner(asgi_server: str, world: World) -> None:
    stream = _stream(asgi_server, world, world.alice)
    try:
        live.publish_change(world.site_a.pk, [world.charger_a2.pk])
        assert _chargers_of(stream.next_event()) == [world.charger_a2.pk]
        live.publish_change(world.site_b.pk, [world.charger_b1.pk])  # another installation
        live.publish_change(world.site_a.pk)  # not a charger's change: every page refreshes
        assert _chargers_of(stream.next_event()) == []
    finally:
        stream.close()


def _until(stream: EventStream, event_type: str, within_s: float = 2.0) -> list[dict[str, Any]]:
    """The changes read until one tells of an event of ``event_type``, which must come within
    ``within_s`` (the presence writer may signal the same moment too: in either order)."""
    changes: list[dict[str, Any]] = []
    deadline = time.monotonic() + within_s
    while not any(told["type"] == event_type for told in _told(changes)):
        left = deadline - time.monotonic()
        assert left > 0, f"no {event_type} within {within_s} s: {changes}"
        event = stream.next_event(timeout=left)
        assert event["event"] == "change", event
        changes.append(json.loads(event["data"]))
    return changes


def _told(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [told for change in changes for told in change.get("events", [])]


def test_a_charger_changing_status_over_its_websocket_is_streamed(
    asgi_server: str, world: World, bridge: BridgeHandle, chargers: Chargers
) -> None:
    stream = _stream(asgi_server, world, world.alice)
    try:
        charger = chargers.connect(world.charger_a1)
        # Online: the presence writer's signal and that of the charger.connected event.
        online = [json.loads(stream.next_event()["data"]) for _ in range(2)]
        assert all(change["chargers"] == [world.charger_a1.pk] for change in online)
        assert _told(online) == [{"charger": world.charger_a1.pk, "type": "charger.connected"}]
        charger.result("StatusNotification", {**STATUS, "status": "Preparing"})
        assert _chargers_of(stream.next_event()) == [world.charger_a1.pk]
        # Heartbeats refresh presence and last-seen only: nothing the pages show, no signal.
        assert charger.heartbeat_answers()
        bridge.flush()
        with pytest.raises(TimeoutError):
            stream.next_event(timeout=1.5)
    finally:
        stream.close()


def test_sessions_and_faults_are_streamed_with_their_events_at_the_commit(
    asgi_server: str, world: World, bridge: BridgeHandle, chargers: Chargers
) -> None:
    Installation.objects.filter(pk=world.site_a.pk).update(authorization_mode="open")
    stream = _stream(asgi_server, world, world.alice)
    try:
        charger = chargers.connect(world.charger_a1)
        _until(stream, "charger.connected")
        start = {"connectorId": 1, "idTag": "ANYONE", "meterStart": 0, "timestamp": NOW}
        tx = charger.result("StartTransaction", start)["transactionId"]
        started = _until(stream, "session.started")  # within 2 s of the answer
        assert {"charger": world.charger_a1.pk, "type": "session.started"} in _told(started)
        faulted = {**STATUS, "status": "Faulted", "errorCode": "OtherError"}
        charger.result("StatusNotification", faulted)
        _until(stream, "connector.faulted")
        charger.result("StopTransaction", {"transactionId": tx, "meterStop": 10, "timestamp": NOW})
        _until(stream, "session.stopped")
    finally:
        stream.close()


def test_a_driver_hears_only_of_the_events_of_chargers_they_may_see(
    asgi_server: str, world: World
) -> None:
    stream = _stream(asgi_server, world, world.dave)  # a driver allowed on A1 only
    try:
        a1, a2 = world.charger_a1.pk, world.charger_a2.pk
        live.publish_events({world.site_a.pk: [(a2, "connector.faulted")]})
        live.publish_events(
            {
                world.site_a.pk: [
                    (a1, "session.started"),
                    (a2, "session.started"),
                    (None, "fuse.overloaded"),
                ]
            }
        )
        change = json.loads(stream.next_event()["data"])
        assert change == {
            "chargers": [a1],
            "events": [
                {"charger": a1, "type": "session.started"},
                {"charger": None, "type": "fuse.overloaded"},
            ],
        }
    finally:
        stream.close()


@pytest.mark.parametrize("who", ["oscar", "anonymous"])
def test_other_tenants_and_strangers_get_404(asgi_server: str, world: World, who: str) -> None:
    user = None if who == "anonymous" else world.oscar
    assert open_stream(asgi_server, f"/installations/{world.site_a.pk}/live/", user) == 404


def test_a_driver_hears_only_of_the_chargers_they_may_see(asgi_server: str, world: World) -> None:
    stream = _stream(asgi_server, world, world.dave)  # a driver allowed on A1 only
    try:
        live.publish_change(world.site_a.pk, [world.charger_a2.pk])
        live.publish_change(world.site_a.pk, [world.charger_a1.pk, world.charger_a2.pk])
        assert _chargers_of(stream.next_event()) == [world.charger_a1.pk]
    finally:
        stream.close()


def test_heartbeats_then_the_stream_ends(
    asgi_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_views, "HEARTBEAT_S", 0.3)
    monkeypatch.setattr(live_views, "STREAM_FOR_S", 1.2)
    started = time.monotonic()
    stream = _stream(asgi_server, world, world.alice)
    try:
        assert stream.next_event() == {"event": "bye", "data": '{"reconnect":true}'}
        assert stream.comments.count("heartbeat") >= 3
        assert stream.next_block() == {}  # the server closed it
        assert time.monotonic() - started < 4
    finally:
        stream.close()


def test_the_subscription_ends_when_the_client_goes_away(asgi_server: str, world: World) -> None:
    redis = get_redis()
    name = live.channel(world.site_a.pk)
    stream = _stream(asgi_server, world, world.alice)
    assert redis.pubsub_numsub(name) == [(name, 1)]
    stream.close()
    deadline = time.monotonic() + 5
    while redis.pubsub_numsub(name) != [(name, 0)]:
        assert time.monotonic() < deadline, "the subscription outlived its client"
        time.sleep(0.05)


def test_under_wsgi_the_stream_is_declined(world: World, client_as: object) -> None:
    """204 tells EventSource not to reconnect: a WSGI worker is never held by a stream."""
    response = client_as(world.alice).get(f"/installations/{world.site_a.pk}/live/")  # type: ignore[operator]
    assert response.status_code == 204


def test_a_balancing_decision_that_sends_limits_is_streamed(asgi_server: str, world: World) -> None:
    for charger in (world.charger_a1, world.charger_a2):
        _plug_in(charger)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[20, 20, 20])
    stream = _stream(asgi_server, world, world.alice)
    try:
        decision = service.balance(world.site_a.pk, BalancingTrigger.MANUAL, "test")
        assert decision is not None and decision.commands_sent > 0
        expected = sorted([world.charger_a1.pk, world.charger_a2.pk])
        assert _chargers_of(stream.next_event()) == expected
    finally:
        stream.close()


def _ends_within(stream: EventStream, seconds: float) -> None:
    """The server closes ``stream`` (no further event) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (block := stream.next_block(timeout=max(0.1, deadline - time.monotonic()))) != {}:
        assert "event" not in block or block["event"] != "change", block
        assert time.monotonic() < deadline, "the stream outlived the user's access"


def test_a_driver_who_loses_their_role_stops_hearing_within_the_recheck(
    asgi_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_views, "RECHECK_S", 0.3)
    stream = _stream(asgi_server, world, world.dave)
    try:
        Membership.objects.filter(user=world.dave, installation=world.site_a).delete()
        time.sleep(0.6)  # a recheck has run
        live.publish_change(world.site_a.pk, [world.charger_a1.pk])
        _ends_within(stream, 3)
    finally:
        stream.close()
    assert open_stream(asgi_server, f"/installations/{world.site_a.pk}/live/", world.dave) == 404


def test_a_logged_out_session_stops_hearing_within_the_recheck(
    asgi_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_views, "RECHECK_S", 0.3)
    stream = _stream(asgi_server, world, world.alice)
    try:
        Session.objects.all().delete()  # what logging out everywhere does to the store
        time.sleep(0.6)
        live.publish_change(world.site_a.pk, [world.charger_a1.pk])
        _ends_within(stream, 3)
    finally:
        stream.close()


def test_a_driver_granted_a_charger_hears_of_it_after_the_recheck(
    asgi_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_views, "RECHECK_S", 0.3)
    stream = _stream(asgi_server, world, world.dave)  # allowed on A1 only
    try:
        live.publish_change(world.site_a.pk, [world.charger_a2.pk])  # not theirs: nothing
        membership = Membership.objects.get(user=world.dave, installation=world.site_a)
        ChargerPermission.objects.create(membership=membership, charger=world.charger_a2)
        time.sleep(0.6)
        live.publish_change(world.site_a.pk, [world.charger_a2.pk])
        assert _chargers_of(stream.next_event()) == [world.charger_a2.pk]
    finally:
        stream.close()
