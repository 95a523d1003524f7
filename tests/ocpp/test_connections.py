"""Who may connect, and what a connection leaves behind: the upgrade, presence, replacement,
shutdown and TLS."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import urllib.request
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargers.choices import EventKind
from chargers.models import Charger, ChargerEvent, ChargeSession
from chargers.services import rotate_ocpp_password
from commands import routing
from commands.routing import LIVE_KEY, PRESENCE_KEY, LiveState, live_states
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt
from ocpp_bridge.server import Found
from portal.redis import get_redis
from tests.conftest import World
from tests.ocpp.conftest import (
    BridgeHandle,
    Chargers,
    basic_auth,
    eventually,
    start_bridge,
    stop_bridge,
)


def _nothing_but_attempts(world: World) -> None:
    assert ChargerEvent.objects.count() == 0
    assert ChargeSession.objects.count() == 0
    assert not Charger.objects.filter(is_online=True).exists()
    assert not get_redis().keys("fusebox:presence:*")


class TestUpgrade:
    def test_a_charger_with_its_password_and_ocpp16_is_connected(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = chargers.connect(world.charger_a1)
        assert charger.websocket.subprotocol == "ocpp1.6"
        assert charger.heartbeat_answers()
        bridge.flush()  # online flags and connection events are written in batches
        world.charger_a1.refresh_from_db()
        assert world.charger_a1.is_online
        assert world.charger_a1.last_seen_at is not None
        event = ChargerEvent.objects.get(charger=world.charger_a1)
        assert (event.kind, event.summary) == (EventKind.CONNECTED, "Connected")
        assert ConnectionAttempt.objects.count() == 0

    def test_unknown_identity_is_refused_with_404_and_recorded(
        self, world: World, chargers: Chargers
    ) -> None:
        headers = {"Authorization": basic_auth("NEW-CHARGER-7", "whatever")}
        assert chargers.refused("NEW-CHARGER-7", headers) == 404
        attempt = ConnectionAttempt.objects.get()
        assert (attempt.identity, attempt.reason, attempt.attempts) == (
            "NEW-CHARGER-7",
            AttemptReason.UNKNOWN_IDENTITY,
            1,
        )
        assert attempt.remote_address == "127.0.0.1"
        _nothing_but_attempts(world)

    def test_wrong_password_is_refused_with_401_and_repeats_are_folded(
        self, world: World, chargers: Chargers
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        chargers.password(world.charger_a1)
        assert chargers.refused(identity, {"Authorization": basic_auth(identity, "guess")}) == 401
        first = ConnectionAttempt.objects.get()
        assert chargers.refused(identity, {"Authorization": basic_auth(identity, "again")}) == 401
        attempt = ConnectionAttempt.objects.get()
        assert (attempt.reason, attempt.attempts) == (AttemptReason.BAD_PASSWORD, 2)
        assert attempt.last_seen_at > first.last_seen_at
        assert attempt.first_seen_at == first.first_seen_at
        _nothing_but_attempts(world)

    @pytest.mark.parametrize(
        "authorization",
        [None, "Bearer abc", "Basic !!!", "other-identity"],
        ids=["missing", "not-basic", "garbled", "username-is-not-the-identity"],
    )
    def test_missing_or_foreign_credentials_are_refused_with_401(
        self, world: World, chargers: Chargers, authorization: str | None
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        password = chargers.password(world.charger_a1)
        if authorization == "other-identity":
            authorization = basic_auth("HARBOUR-A2", password)
        headers = {"Authorization": authorization} if authorization else {}
        assert chargers.refused(identity, headers) == 401
        assert ConnectionAttempt.objects.get().reason == AttemptReason.BAD_PASSWORD
        _nothing_but_attempts(world)

    @pytest.mark.parametrize("offered", [[], ["ocpp2.0.1"]], ids=["none", "another"])
    def test_without_the_ocpp16_subprotocol_is_refused_and_recorded(
        self, world: World, chargers: Chargers, offered: list[str]
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        headers = {"Authorization": basic_auth(identity, chargers.password(world.charger_a1))}
        assert chargers.refused(identity, headers, subprotocols=offered) == 400
        attempt = ConnectionAttempt.objects.get()
        assert (attempt.identity, attempt.reason) == (identity, AttemptReason.BAD_SUBPROTOCOL)
        _nothing_but_attempts(world)

    def test_a_rotated_password_or_a_deleted_charger_counts_from_the_next_upgrade(
        self, world: World, chargers: Chargers
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        old_password = chargers.password(world.charger_a1)
        chargers.connect(world.charger_a1).close()
        eventually(lambda: not chargers.bridge.bridge.server.connections)
        new_password = rotate_ocpp_password(world.charger_a1)
        assert (
            chargers.refused(identity, {"Authorization": basic_auth(identity, old_password)}) == 401
        )
        chargers.passwords[identity] = new_password
        chargers.connect(world.charger_a1).close()
        eventually(lambda: not chargers.bridge.bridge.server.connections)
        Charger.objects.filter(pk=world.charger_a1.pk).delete()
        assert (
            chargers.refused(identity, {"Authorization": basic_auth(identity, new_password)}) == 404
        )

    def test_upgrades_arriving_together_are_looked_up_in_batches(
        self, world: World, bridge: BridgeHandle
    ) -> None:
        identities = ["HARBOUR-A1", "HARBOUR-A2", "DEPOT-B1"]
        passwords = {
            i: rotate_ocpp_password(Charger.objects.get(ocpp_identity=i)) for i in identities
        }
        admissions = bridge.bridge.server.admissions
        lookups: list[list[str]] = []
        lookup = admissions.lookup
        gate = asyncio.Event()

        async def slow_lookup(batch: Collection[str]) -> dict[str, Found]:
            lookups.append(sorted(batch))
            await gate.wait()  # the first lookup takes a while: the others gather meanwhile
            return await lookup(batch)

        async def connect_all() -> list[str | None]:
            admissions.lookup = slow_lookup
            opening = [asyncio.create_task(_open(bridge, "HARBOUR-A1", passwords["HARBOUR-A1"]))]
            while not lookups:
                await asyncio.sleep(0.01)
            opening += [
                asyncio.create_task(_open(bridge, identity, passwords.get(identity, "x")))
                for identity in ["HARBOUR-A2", "DEPOT-B1", "HARBOUR-A2", "NOBODY-1"]
            ]
            await asyncio.sleep(0.2)
            gate.set()
            return list(await asyncio.gather(*opening))

        try:
            results = bridge.run(connect_all())
        finally:
            admissions.lookup = lookup
        assert results == ["ocpp1.6", "ocpp1.6", "ocpp1.6", "ocpp1.6", None]
        # The first lookup took one upgrade; the four that came meanwhile shared the second.
        assert lookups == [["HARBOUR-A1"], ["DEPOT-B1", "HARBOUR-A2", "NOBODY-1"]]
        eventually(lambda: not bridge.bridge.server.connections)

    def test_a_failed_lookup_refuses_its_upgrades_and_the_next_ones_go_through(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        admissions = bridge.bridge.server.admissions
        lookup = admissions.lookup

        async def broken(batch: Collection[str]) -> dict[str, Found]:
            admissions.lookup = lookup
            raise RuntimeError("database away")

        admissions.lookup = broken
        password = chargers.password(world.charger_a1)
        identity = world.charger_a1.ocpp_identity
        assert chargers.refused(identity, {"Authorization": basic_auth(identity, password)}) == 500
        assert chargers.connect(world.charger_a1).heartbeat_answers()

    def test_an_identity_no_charger_can_have_is_not_looked_up(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        """A NUL in an identity would fail the lookup of every upgrade in its batch (anyone may
        knock): such identities are refused without a lookup; the others are recorded."""
        admissions = bridge.bridge.server.admissions
        lookup = admissions.lookup
        looked_up: list[str] = []

        async def watched(batch: Collection[str]) -> dict[str, Found]:
            looked_up.extend(batch)
            return await lookup(batch)

        admissions.lookup = watched
        try:
            assert chargers.refused("EVIL%00") == 404
            assert chargers.refused("My%20Charger") == 404
            assert chargers.refused("x" * 49) == 404
            assert chargers.connect(world.charger_a1).heartbeat_answers()
        finally:
            admissions.lookup = lookup
        assert looked_up == [world.charger_a1.ocpp_identity]
        recorded = ConnectionAttempt.objects.values_list("identity", flat=True)
        assert sorted(recorded) == ["My Charger", "x" * 49]

    def test_other_paths_are_not_found_and_not_recorded(
        self, world: World, chargers: Chargers
    ) -> None:
        assert chargers.refused("../admin") == 404
        assert chargers.refused("") == 404
        assert ConnectionAttempt.objects.count() == 0

    def test_health_endpoint_answers_plain_http(self, bridge: BridgeHandle) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{bridge.bridge.port}/healthz") as reply:
            assert (reply.status, reply.read()) == (200, b"OK\n")


class TestPresence:
    def test_presence_and_live_state_are_set_on_connect_and_cleared_on_disconnect(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        identity = world.charger_a2.ocpp_identity
        charger = chargers.connect(world.charger_a2)
        assert routing.node_of(identity) == bridge.bridge.node_id
        assert 0 < get_redis().ttl(PRESENCE_KEY.format(identity=identity)) <= 90
        live = live_states([world.charger_a2.pk])[world.charger_a2.pk]
        assert live.online and live.node == bridge.bridge.node_id
        assert live.connectors == {"1": "Unknown", "2": "Unknown"}
        assert live.last_seen is not None

        charger.close()
        eventually(lambda: routing.node_of(identity) is None)
        after = live_states([world.charger_a2.pk])[world.charger_a2.pk]
        assert after.last_seen is not None and after.last_seen >= live.last_seen
        assert after == LiveState(online=False, last_seen=after.last_seen)
        bridge.flush()
        assert not Charger.objects.get(pk=world.charger_a2.pk).is_online
        kinds = list(
            ChargerEvent.objects.filter(charger=world.charger_a2)
            .order_by("timestamp")
            .values_list("kind", flat=True)
        )
        assert kinds == [EventKind.CONNECTED, EventKind.DISCONNECTED]

    def test_messages_keep_last_seen_fresh_in_redis_and_in_batches_in_the_database(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = chargers.connect(world.charger_a1)
        bridge.flush()
        world.charger_a1.refresh_from_db()
        connected_at = world.charger_a1.last_seen_at
        assert connected_at is not None
        get_redis().hset(LIVE_KEY.format(charger_id=world.charger_a1.pk), "last_seen", "")
        get_redis().expire(PRESENCE_KEY.format(identity=world.charger_a1.ocpp_identity), 5)
        assert charger.heartbeat_answers()
        bridge.flush()
        assert live_states([world.charger_a1.pk])[world.charger_a1.pk].last_seen
        assert get_redis().ttl(PRESENCE_KEY.format(identity=world.charger_a1.ocpp_identity)) > 5
        world.charger_a1.refresh_from_db()
        assert world.charger_a1.last_seen_at > connected_at

    def test_a_node_leaves_alone_presence_another_node_took_over(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        charger = chargers.connect(world.charger_a1)
        key = PRESENCE_KEY.format(identity=identity)
        get_redis().set(key, "other-node", ex=90)  # the charger reconnected elsewhere
        assert charger.heartbeat_answers()
        bridge.flush()
        assert get_redis().get(key) == "other-node"
        charger.close()
        eventually(lambda: not bridge.bridge.server.connections)
        bridge.flush()
        assert get_redis().get(key) == "other-node"

    def test_a_charger_is_served_while_redis_fails_and_its_presence_follows(
        self,
        world: World,
        chargers: Chargers,
        bridge: BridgeHandle,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        presence = bridge.bridge.presence
        write = presence._write
        failures = [RedisTimeoutError("Timeout writing to socket")] * 2

        async def flaky(actions: list[Any]) -> None:
            if failures:
                raise failures.pop()
            await write(actions)

        presence._write = flaky  # type: ignore[method-assign]
        identity = world.charger_a1.ocpp_identity
        password = chargers.password(world.charger_a1)
        charger = chargers.connect_raw(identity, {"Authorization": basic_auth(identity, password)})
        assert charger.heartbeat_answers()  # served at once, Redis or not
        eventually(lambda: routing.node_of(identity) == bridge.bridge.node_id)
        assert not failures
        failed = [r for r in caplog.records if "Writing presence" in r.getMessage()]
        assert len(failed) == 2  # one line per failed round
        assert not any(r.exc_info for r in failed)  # no traceback for a Redis error
        assert live_states([world.charger_a1.pk])[world.charger_a1.pk].online

    def test_a_deleted_charger_does_not_stop_other_chargers_online_states_being_saved(
        self,
        world: World,
        chargers: Chargers,
        bridge: BridgeHandle,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        deleted = chargers.connect(world.charger_a1)
        deleted_id = world.charger_a1.pk
        Charger.objects.filter(pk=deleted_id).delete()  # while the bridge holds its state
        deleted.close()  # its disconnect (and last seen) are now rows of a charger that is gone
        other_tenant = chargers.connect(world.charger_b1)
        assert other_tenant.heartbeat_answers()
        bridge.flush()  # no foreign key error: the deleted charger's rows are dropped
        world.charger_b1.refresh_from_db()
        assert world.charger_b1.is_online
        assert not ChargerEvent.objects.filter(charger_id=deleted_id).exists()
        dropped = [r for r in caplog.records if "deleted chargers" in r.getMessage()]
        assert dropped and all(f"(ids {deleted_id})" in r.getMessage() for r in dropped)

        # The writer goes on: later connects, disconnects and last-seen times are saved.
        other_tenant.close()
        eventually(lambda: not bridge.bridge.server.connections)
        same_tenant = chargers.connect(world.charger_a2)
        bridge.flush()
        assert not Charger.objects.get(pk=world.charger_b1.pk).is_online
        assert Charger.objects.get(pk=world.charger_a2.pk).is_online
        kinds = ChargerEvent.objects.filter(charger=world.charger_b1).order_by("timestamp")
        assert [e.kind for e in kinds] == [EventKind.CONNECTED, EventKind.DISCONNECTED]
        assert same_tenant.heartbeat_answers()

    def test_a_charger_deleted_while_its_batch_is_written_fails_that_batch_once(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from django.db import IntegrityError

        from ocpp_bridge import persistence

        checked = persistence.connections._of_existing_chargers
        calls: list[int] = []

        def deleted_after_the_check(changes: Any, seen: Any) -> Any:
            calls.append(1)
            return (changes, seen) if len(calls) == 1 else checked(changes, seen)

        handle = start_bridge(online_interval_s=3600)  # only the flushes below write
        pool = Chargers(handle)
        try:
            pool.connect(world.charger_a1)
            pool.connect(world.charger_b1)
            Charger.objects.filter(pk=world.charger_a1.pk).delete()
            monkeypatch.setattr(
                persistence.connections, "_of_existing_chargers", deleted_after_the_check
            )
            with pytest.raises(IntegrityError):  # the batch is kept for the next round ...
                handle.flush()
            assert not Charger.objects.get(pk=world.charger_b1.pk).is_online  # all or nothing
            handle.flush()  # ... which drops the deleted charger and writes the rest
            assert Charger.objects.get(pk=world.charger_b1.pk).is_online
            assert ChargerEvent.objects.filter(charger=world.charger_b1).count() == 1
        finally:
            pool.close()
            stop_bridge(handle)

    def test_a_second_connection_replaces_the_first(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        identity = world.charger_a1.ocpp_identity
        first = chargers.connect(world.charger_a1)
        second = chargers.connect(world.charger_a1)
        assert first.wait_closed() == (
            4000,
            "Replaced by a newer connection of the same charge point",
        )
        assert second.heartbeat_answers()
        assert routing.node_of(identity) == bridge.bridge.node_id
        assert bridge.bridge.server.connections[identity].charger.pk == world.charger_a1.pk
        bridge.flush()
        world.charger_a1.refresh_from_db()
        assert world.charger_a1.is_online
        summaries = list(
            ChargerEvent.objects.filter(charger=world.charger_a1)
            .order_by("timestamp")
            .values_list("summary", flat=True)
        )
        assert summaries == ["Connected", "Connected (replacing the previous connection)"]

        second.close()
        eventually(lambda: routing.node_of(identity) is None)
        bridge.flush()
        assert not Charger.objects.get(pk=world.charger_a1.pk).is_online


class TestShutdown:
    def test_a_graceful_stop_closes_connections_flushes_and_marks_chargers_offline(
        self, world: World
    ) -> None:
        handle = start_bridge(meter_flush_interval_s=60)
        pool = Chargers(handle)
        try:
            charger = pool.connect(world.charger_b1)
            charger.result(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {
                            "timestamp": "2026-01-05T10:00:00Z",
                            "sampledValue": [{"value": "1234", "measurand": "Voltage"}],
                        }
                    ],
                },
            )
            assert handle.bridge.meters.pending == 1
            stop_bridge(handle)
            assert charger.wait_closed() == (1001, "")
        finally:
            pool.close()
        world.charger_b1.refresh_from_db()
        assert not world.charger_b1.is_online
        assert routing.node_of(world.charger_b1.ocpp_identity) is None
        assert not live_states([world.charger_b1.pk])[world.charger_b1.pk].online
        from chargers.models import MeterValue

        assert MeterValue.objects.filter(charger=world.charger_b1).count() == 1
        assert ChargerEvent.objects.filter(
            charger=world.charger_b1, kind=EventKind.DISCONNECTED, summary="Bridge node stopped"
        ).exists()


async def _open(bridge: BridgeHandle, identity: str, password: str) -> str | None:
    """Open and close a connection; its subprotocol, or None if the upgrade was refused."""
    try:
        async with connect(
            bridge.url(identity),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers={"Authorization": basic_auth(identity, password)},
        ) as websocket:
            return websocket.subprotocol
    except InvalidStatus:
        return None


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_when_a_certificate_is_configured(world: World, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    password = rotate_ocpp_password(world.charger_a1)
    handle = start_bridge(tls_cert=str(cert), tls_key=str(key))
    client_context = ssl.create_default_context(cafile=str(cert))

    async def heartbeat() -> list[object]:
        url = f"wss://127.0.0.1:{handle.bridge.port}/ocpp/HARBOUR-A1"
        headers = {"Authorization": basic_auth("HARBOUR-A1", password)}
        async with connect(
            url, subprotocols=["ocpp1.6"], additional_headers=headers, ssl=client_context
        ) as websocket:  # type: ignore[list-item]
            await websocket.send('[2,"t","Heartbeat",{}]')
            return json.loads(await websocket.recv())

    try:
        reply = asyncio.run(heartbeat())
        assert reply[:2] == [3, "t"]
        eventually(lambda: not handle.bridge.server.connections)
    finally:
        stop_bridge(handle)
