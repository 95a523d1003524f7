"""API of what chargers do: commands (validated, routed, expired), sessions, events, attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chargers.models import Charger, ChargeSession
from commands import routing
from commands.choices import CommandStatus
from commands.models import Command
from ocpp_bridge import sweeps
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt
from portal.redis import get_redis
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def _present(charger: Charger, node: str = "node-test") -> str:
    get_redis().set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), node, ex=60)
    return routing.NODE_QUEUE_KEY.format(node=node)


class TestCommands:
    def test_command_to_an_offline_charger_fails_at_once(self, world: World) -> None:
        response = api_as(world.ingrid).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
            {"action": "Reset", "payload": {"type": "Soft"}},
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["status"], body["error"]) == ("failed", "Charger is offline.")
        assert body["requested_by"] == "ingrid@example.com"

    def test_command_is_queued_for_the_node_holding_the_charger(
        self, world: World, django_capture_on_commit_callbacks
    ) -> None:  # type: ignore[no-untyped-def]
        queue = _present(world.charger_a1)
        with django_capture_on_commit_callbacks(execute=True):
            response = api_as(world.alice).post(
                f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
                {
                    "action": "ChangeAvailability",
                    "payload": {"connectorId": 0, "type": "Inoperative"},
                },
            )
        assert response.json()["status"] == "pending"
        assert get_redis().lrange(queue, 0, -1) == [str(response.json()["id"])]

    def test_invalid_payload_is_refused_before_anything_is_queued(self, world: World) -> None:
        _present(world.charger_a1)
        response = api_as(world.alice).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
            {"action": "Reset", "payload": {"type": "Gentle"}},
        )
        assert response.status_code == 400
        assert "type" in response.json()["error"]["fields"]["payload"][0]
        response = api_as(world.alice).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/", {"action": "Explode"}
        )
        assert "action" in response.json()["error"]["fields"]
        assert not Command.objects.exists()

    def test_charging_profile_decimals_pass_the_schema(self, world: World) -> None:
        """21.4 is a multiple of 0.1 (parsed as a decimal): the answer is the manual-command
        refusal (commands/reserved.py), not a schema error."""
        profile = {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
                },
            },
        }  # fmt: skip
        response = api_as(world.alice).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
            {"action": "SetChargingProfile", "payload": profile},
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "refused"

    def test_drivers_cannot_command_chargers(self, world: World) -> None:
        response = api_as(world.dora).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
            {"action": "Reset", "payload": {"type": "Hard"}},
        )
        assert response.status_code == 404
        assert (
            api_as(world.oscar)
            .get(f"/api/v1/commands/?charger={world.charger_a1.pk}")
            .json()["results"]
            == []
        )

    def test_waiting_returns_once_the_bridge_answers(self, world: World) -> None:
        _present(world.charger_a1)
        command = routing.issue_command(world.charger_a1, "ClearCache", {})
        Command.objects.filter(pk=command.pk).update(
            status=CommandStatus.ACCEPTED, response={"status": "Accepted"}
        )
        assert routing.wait_for_command(command, timeout_s=2).status == CommandStatus.ACCEPTED

    def test_unanswered_commands_time_out_and_the_sweep_is_idempotent(self, world: World) -> None:
        _present(world.charger_a1)
        command = routing.issue_command(world.charger_a1, "ClearCache", {}, timeout_s=5)
        assert routing.expire_commands(now=timezone.now()) == 0
        later = timezone.now() + timedelta(seconds=6)
        assert routing.expire_commands(now=later) == 1
        assert routing.expire_commands(now=later) == 0
        command.refresh_from_db()
        assert command.status == CommandStatus.TIMED_OUT

    def test_a_taken_command_times_out_counted_from_when_the_node_took_it(
        self, world: World
    ) -> None:
        """The node counts a command's timeout from when it took it (a command may wait in its
        queue, or be held while the charger boots); the sweep must not declare it lost before
        the node would, while the charger may be answering it."""
        _present(world.charger_a1)
        now = timezone.now()
        queued_long = routing.issue_command(world.charger_a1, "ReserveNow", {}, timeout_s=30)
        Command.objects.filter(pk=queued_long.pk).update(
            created_at=now - timedelta(seconds=100),
            status=CommandStatus.SENT,
            sent_at=now - timedelta(seconds=20),
        )
        never_taken = routing.issue_command(world.charger_a1, "ClearCache", {}, timeout_s=30)
        Command.objects.filter(pk=never_taken.pk).update(created_at=now - timedelta(seconds=31))
        assert routing.expire_commands(now=now) == 1  # the pending one, from its creation
        assert Command.objects.get(pk=queued_long.pk).status == CommandStatus.SENT
        grace = timedelta(seconds=routing.SENT_GRACE_S)
        assert routing.expire_commands(now=now + timedelta(seconds=9) + grace) == 0
        assert routing.expire_commands(now=now + timedelta(seconds=11) + grace) == 1
        assert Command.objects.get(pk=queued_long.pk).status == CommandStatus.TIMED_OUT


class TestSessions:
    def _session(self, charger: Charger, user: object, energy_wh: int) -> ChargeSession:
        return ChargeSession.objects.create(
            charger=charger, connector=charger.connectors.first(), id_tag="TAG", user=user,
            started_at=timezone.now(), meter_start_wh=0, energy_wh=energy_wh,
        )  # fmt: skip

    def test_drivers_see_their_own_sessions_everywhere_and_nobody_elses(self, world: World) -> None:
        mine = self._session(world.charger_a2, world.dave, 1000)  # a charger he may not even see
        abroad = self._session(world.charger_b1, world.dave, 2000)  # another tenant's site
        theirs = self._session(world.charger_a1, world.dora, 3000)
        ids = {s["id"] for s in api_as(world.dave).get("/api/v1/sessions/").json()["results"]}
        assert ids == {mine.pk, abroad.pk}
        ids = {s["id"] for s in api_as(world.alice).get("/api/v1/sessions/").json()["results"]}
        assert ids == {mine.pk, theirs.pk}
        assert api_as(world.alice).get(f"/api/v1/sessions/{abroad.pk}/").status_code == 404
        ids = {s["id"] for s in api_as(world.oscar).get("/api/v1/sessions/").json()["results"]}
        assert ids == {abroad.pk}

    def test_filters_by_installation_and_time(self, world: World) -> None:
        self._session(world.charger_a1, world.dora, 3000)
        client = api_as(world.ingrid)
        assert client.get(f"/api/v1/sessions/?installation={world.site_a.pk}").json()["count"] == 1
        assert (
            client.get("/api/v1/sessions/?started_after=2999-01-01T00:00:00Z").json()["count"] == 0
        )
        assert client.get("/api/v1/sessions/?started_after=yesterday").status_code == 400


class TestConnectionAttempts:
    def test_unknown_identities_are_shown_to_installers_and_wrong_passwords_to_their_owners(
        self, world: World
    ) -> None:
        now = timezone.now()
        ConnectionAttempt.objects.create(
            identity="NEW-CHARGER-9", reason=AttemptReason.UNKNOWN_IDENTITY, last_seen_at=now
        )
        ConnectionAttempt.objects.create(
            identity="HARBOUR-A1", reason=AttemptReason.BAD_PASSWORD, last_seen_at=now
        )
        ConnectionAttempt.objects.create(
            identity="DEPOT-B1", reason=AttemptReason.BAD_PASSWORD, last_seen_at=now
        )

        def seen(user: object) -> set[str]:
            return {
                a["identity"]
                for a in api_as(user).get("/api/v1/connection-attempts/").json()["results"]
            }

        assert seen(world.ingrid) == {"NEW-CHARGER-9", "HARBOUR-A1"}
        assert seen(world.oscar) == {"NEW-CHARGER-9", "DEPOT-B1"}
        assert seen(world.dora) == set()


class TestSweeps:
    def test_chargers_no_node_holds_are_marked_offline_once(self, world: World) -> None:
        Charger.objects.filter(pk__in=[world.charger_a1.pk, world.charger_a2.pk]).update(
            is_online=True
        )
        _present(world.charger_a2)
        assert sweeps.mark_vanished_chargers_offline() == 1
        assert sweeps.mark_vanished_chargers_offline() == 0
        assert list(Charger.objects.filter(is_online=True).values_list("name", flat=True)) == ["A2"]
        assert world.charger_a1.events.get().kind == "disconnected"


def test_charger_api_shows_live_state_from_redis(world: World) -> None:
    get_redis().hset(
        routing.LIVE_KEY.format(charger_id=world.charger_a1.pk),
        mapping={
            "online": "1",
            "current_l1": "15.5",
            "current_l2": "15.0",
            "current_l3": "0",
            "connectors": '{"1": "Charging"}',
        },
    )
    body = api_as(world.alice).get("/api/v1/chargers/").json()["results"]
    live = {c["name"]: c["live"] for c in body}
    assert live["A1"]["online"] is True
    assert live["A1"]["current_a"] == [15.5, 15.0, 0.0]
    assert live["A1"]["connectors"] == {"1": "Charging"}
    assert live["A2"]["online"] is False
    single = api_as(world.alice).get(f"/api/v1/chargers/{world.charger_a1.pk}/").json()
    assert single["live"]["current_a"] == [15.5, 15.0, 0.0]


def test_registering_a_charger_that_tried_to_connect_claims_it(world: World) -> None:
    ConnectionAttempt.objects.create(
        identity="NEW-CHARGER-9",
        reason=AttemptReason.UNKNOWN_IDENTITY,
        last_seen_at=timezone.now(),
        attempts=4,
    )
    client = api_as(world.ingrid)
    [attempt] = client.get("/api/v1/connection-attempts/?reason=unknown_identity").json()["results"]
    response = client.post(
        "/api/v1/chargers/",
        {"circuit": world.row_a.pk, "name": "A9", "ocpp_identity": attempt["identity"]},
    )
    assert response.status_code == 201
    assert client.get("/api/v1/connection-attempts/").json()["results"] == []
