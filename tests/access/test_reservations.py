"""Reservations end to end (OCPP 1.6 ReserveNow / CancelReservation): the API, the command
reaching the charger over its websocket with the right payload, the charger's answer setting the
reservation's status, the Reserved connector that balancing does not take for a car, the
StartTransaction that uses the reservation, cancelling, the expiry sweep, bad input and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from auth_access import reservations, tasks
from auth_access.choices import ReservationStatus
from auth_access.models import ChargeCard, Reservation
from auth_access.virtual_tags import virtual_id_tag
from balancing.engine import solve
from balancing.snapshot import build_scenario
from chargers.models import ChargeSession, Connector
from commands.choices import CommandStatus
from commands.models import Command
from tests.conftest import World, api_as
from tests.ocpp.conftest import NO_ANSWER, TestCharger, eventually

pytestmark = pytest.mark.usefixtures("transactional_db")
T0 = "2026-02-01T18:00:00Z"


@pytest.fixture
def dora_card(world: World) -> ChargeCard:
    """A card alice registered for dora at the harbour (it charges only there)."""
    return ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-HARBOUR", installation=world.site_a, created_by=world.alice
    )


def reserve(world: World, persona: str = "alice", **fields: Any) -> Any:
    body = {"charger": world.charger_a1.pk, "connector_id": 1, "user": world.dora.pk}
    return api_as(getattr(world, persona)).post(
        "/api/v1/reservations/", {**body, **fields}, format="json"
    )


def reserved(world: World, **fields: Any) -> dict[str, Any]:
    response = reserve(world, wait_s=5, **fields)
    assert response.status_code == 201, response.content
    return response.json()


def allocated(scenario: dict[str, Any], charger_id: str) -> float:
    """The current the engine gives ``charger_id`` (0: none, or not listed)."""
    found = [a["current"] for a in solve(scenario)["allocations"] if a["id"] == charger_id]
    return found[0] if found else 0


def status_notification(charger: TestCharger, status: str, connector: int = 1) -> None:
    payload = {"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": T0}
    assert charger.result("StatusNotification", payload) == {}
    charger.settle()


def test_an_owner_reserves_a_connector_for_a_driver_until_it_is_used(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    before = timezone.now()
    body = reserved(world, card=dora_card.pk, duration_minutes=45)
    reservation = Reservation.objects.get()
    assert (body["id"], body["status"], body["charger_answer"]) == (
        reservation.pk, "active", "Accepted",
    )  # fmt: skip
    assert (body["user"]["id"], body["id_tag"], body["card"]) == (
        world.dora.pk, "DORA-HARBOUR", dora_card.pk,
    )  # fmt: skip
    assert body["reserve_command"]["requested_by"] == "alice@example.com"
    expiry = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(minutes=45) <= expiry <= timezone.now() + timedelta(minutes=45)
    [call] = [m for m in a1.received if m[2] == "ReserveNow"]
    assert call[3] == {
        "connectorId": 1,
        "expiryDate": expiry.astimezone(UTC).replace(microsecond=0).isoformat()[:-6] + "Z",
        "idTag": "DORA-HARBOUR",
        "reservationId": reservation.pk,
    }

    # The charger shows the connector reserved: a status, not a car. Balancing gives it nothing.
    status_notification(a1, "Reserved")
    assert Connector.objects.get(charger=world.charger_a1).status == "Reserved"
    scenario = build_scenario(world.site_a)
    [entry] = [c for c in scenario["chargers"] if c["id"] == "HARBOUR-A1"]
    assert (entry["online"], entry["car_connected"]) == (True, False)
    assert allocated(scenario, "HARBOUR-A1") == 0

    # Dora plugs in and shows her card: the StartTransaction carries the reservation, which ends.
    start = {"connectorId": 1, "idTag": "DORA-HARBOUR", "meterStart": 0, "timestamp": T0}
    reply = a1.result("StartTransaction", {**start, "reservationId": reservation.pk})
    assert reply["idTagInfo"]["status"] == "Accepted"
    session = ChargeSession.objects.get()
    reservation.refresh_from_db()
    assert (reservation.status, reservation.session, session.reservation_id) == (
        ReservationStatus.USED, session, reservation.pk,
    )  # fmt: skip
    assert reservation.ended_at == datetime(2026, 2, 1, 18, 0, tzinfo=UTC)
    # Now there is a car: balancing gives it current.
    status_notification(a1, "Charging")
    scenario = build_scenario(world.site_a)
    [entry] = [c for c in scenario["chargers"] if c["id"] == "HARBOUR-A1"]
    assert entry["car_connected"] is True
    assert allocated(scenario, "HARBOUR-A1") >= world.charger_a1.min_current_a


def test_without_a_card_the_drivers_app_idtag_is_sent(world: World, a1: TestCharger) -> None:
    body = reserved(world, user=world.dave.pk)  # dave may charge on A1 (named there)
    assert (body["status"], body["id_tag"], body["card"]) == (
        "active", virtual_id_tag(world.dave.pk), None,
    )  # fmt: skip
    [call] = [m for m in a1.received if m[2] == "ReserveNow"]
    assert call[3]["idTag"] == virtual_id_tag(world.dave.pk)


@pytest.mark.parametrize("answer", ["Occupied", "Faulted", "Unavailable", "Rejected"])
def test_a_charger_that_does_not_take_it_rejects_it_with_its_reason(
    world: World, a1: TestCharger, answer: str
) -> None:
    a1.answers["ReserveNow"] = {"status": answer}
    body = reserved(world)
    assert (body["status"], body["charger_answer"]) == ("rejected", answer)
    assert body["reason"] == f"{answer}: {reservations.CHARGER_ANSWERS[answer]}"
    assert body["reserve_command"]["status"] == "rejected"
    assert Reservation.objects.get().ended_at is not None
    # A rejected reservation holds nothing: the connector can be reserved again.
    a1.answers["ReserveNow"] = {"status": "Accepted"}
    assert reserved(world)["status"] == "active"


def test_a_call_error_or_an_offline_charger_rejects_it(world: World, a1: TestCharger) -> None:
    a1.answers["ReserveNow"] = ("NotSupported", "No reservations here")
    body = reserved(world)
    assert (body["status"], body["reason"]) == ("rejected", "NotSupported: No reservations here")
    body = reserved(world, charger=world.charger_a2.pk)  # not connected
    assert (body["status"], body["reason"]) == ("rejected", "Charger is offline.")


def test_a_reserve_now_without_an_answer_is_withdrawn_with_cancel_reservation(
    world: World, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reservations, "COMMAND_TIMEOUT_S", 1.0)
    a1.answers["ReserveNow"] = NO_ANSWER
    reservation_id = reserved(world)["id"]
    eventually(lambda: Reservation.objects.get(pk=reservation_id).status != "requested", 10)
    reservation = Reservation.objects.get(pk=reservation_id)
    assert reservation.status == ReservationStatus.REJECTED
    eventually(lambda: any(m[2] == "CancelReservation" for m in a1.received), 10)
    assert [m[2:] for m in a1.received if m[2] == "CancelReservation"] == [
        ["CancelReservation", {"reservationId": reservation_id}]
    ]
    reservation.refresh_from_db()
    assert reservation.cancel_command is not None
    # A charger that answered (even Rejected) is not asked again.
    a1.answers["ReserveNow"] = {"status": "Occupied"}
    other = reserved(world)
    assert other["status"] == "rejected"
    assert Reservation.objects.get(pk=other["id"]).cancel_command is None


def test_cancel_sends_cancel_reservation_and_ends_it(world: World, a1: TestCharger) -> None:
    reservation_id = reserved(world)["id"]
    response = api_as(world.alice).post(f"/api/v1/reservations/{reservation_id}/cancel/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cancel_command"]["action"]) == ("cancelled", "CancelReservation")
    eventually(lambda: Command.objects.get(pk=body["cancel_command"]["id"]).is_final)
    assert [m[2:] for m in a1.received if m[2] == "CancelReservation"] == [
        ["CancelReservation", {"reservationId": reservation_id}]
    ]
    assert Command.objects.get(pk=body["cancel_command"]["id"]).status == CommandStatus.ACCEPTED
    again = api_as(world.alice).post(f"/api/v1/reservations/{reservation_id}/cancel/")
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "This reservation has already ended (cancelled)."
    # A StartTransaction naming it afterwards does not bring it back.
    start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "timestamp": T0}
    a1.result("StartTransaction", {**start, "reservationId": reservation_id})
    assert Reservation.objects.get().status == ReservationStatus.CANCELLED


def test_the_driver_sees_and_cancels_their_own_others_get_404(
    world: World, a1: TestCharger
) -> None:
    reservation_id = reserved(world)["id"]
    dora, dave, oscar = api_as(world.dora), api_as(world.dave), api_as(world.oscar)
    assert [r["id"] for r in dora.get("/api/v1/reservations/").json()["results"]] == [
        reservation_id
    ]
    assert dave.get("/api/v1/reservations/").json()["results"] == []
    for client in (dave, oscar):
        assert client.get(f"/api/v1/reservations/{reservation_id}/").status_code == 404
        assert client.post(f"/api/v1/reservations/{reservation_id}/cancel/").status_code == 404
    assert Reservation.objects.get().status == ReservationStatus.ACTIVE
    response = dora.post(f"/api/v1/reservations/{reservation_id}/cancel/")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert Reservation.objects.get().cancelled_by == world.dora


def test_a_start_without_reservation_id_by_the_reserved_idtag_uses_it(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    reserved(world, card=dora_card.pk)
    start = {"connectorId": 1, "idTag": "DORA-HARBOUR", "meterStart": 0, "timestamp": T0}
    a1.result("StartTransaction", start)
    assert Reservation.objects.get().status == ReservationStatus.USED


def test_a_start_by_someone_else_leaves_the_reservation_open(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    reserved(world, card=dora_card.pk)
    start = {"connectorId": 1, "idTag": "SOMEONE", "meterStart": 0, "timestamp": T0}
    a1.result("StartTransaction", start)
    assert Reservation.objects.get().status == ReservationStatus.ACTIVE


def test_the_sweep_expires_reservations_and_settles_unanswered_ones(
    world: World, a1: TestCharger
) -> None:
    first = Reservation.objects.get(pk=reserved(world)["id"])
    now = timezone.now()
    Reservation.objects.filter(pk=first.pk).update(
        created_at=now - timedelta(hours=1), expires_at=now - timedelta(seconds=1)
    )
    # A ReserveNow the command sweep timed out (the bridge never recorded an answer).
    command = Command.objects.create(
        charger=world.charger_a2,
        action="ReserveNow",
        status=CommandStatus.TIMED_OUT,
        error="No answer from the charger in time.",
    )
    waiting = Reservation.objects.create(
        charger=world.charger_a2,
        connector_id=2,
        user=world.dora,
        id_tag="DORA-1",
        expires_at=now + timedelta(minutes=20),
        reserve_command=command,
    )
    assert tasks.expire_reservations() == {"expired": 1, "settled": 1}
    assert tasks.expire_reservations() == {"expired": 0, "settled": 0}  # safe to run twice
    first.refresh_from_db()
    waiting.refresh_from_db()
    assert (first.status, first.ended_at is not None) == (ReservationStatus.EXPIRED, True)
    assert (waiting.status, waiting.reason) == (
        ReservationStatus.REJECTED, "No answer from the charger in time.",
    )  # fmt: skip
    # It may have reached the charger all the same: it is withdrawn (offline here: failed at once).
    assert waiting.cancel_command is not None
    assert (waiting.cancel_command.action, waiting.cancel_command.payload) == (
        "CancelReservation", {"reservationId": waiting.pk},
    )  # fmt: skip
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["auth_access.tasks.expire_reservations"] <= 60
    # An expired reservation holds the connector no more.
    assert reserved(world)["status"] == "active"


def test_bad_input_is_400_naming_the_field(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    now = timezone.now()
    oscar_card = ChargeCard.objects.create(user=world.oscar, id_tag="OSCAR-1")
    dave_card = ChargeCard.objects.create(
        user=world.dave, id_tag="DAVE-HARBOUR", installation=world.site_a
    )
    blocked = ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-OLD", installation=world.site_a, is_blocked=True
    )
    cases = {
        "connector_id": [{"connector_id": 9}, {"connector_id": -1}, {"connector_id": "x"}],
        "expires_at": [
            {"expires_at": (now - timedelta(minutes=5)).isoformat()},
            {"expires_at": (now + timedelta(hours=25)).isoformat()},
            {"expires_at": "tomorrow"},
        ],
        "duration_minutes": [{"duration_minutes": 0}, {"duration_minutes": 24 * 60 + 1}],
        "user": [
            {"user": world.oscar.pk},  # not a member
            {"user": 10**9},
            {"user": world.dave.pk, "charger": world.charger_a2.pk},  # named on A1 only
        ],
        "card": [
            {"card": oscar_card.pk},
            {"card": dave_card.pk},  # registered here, but dave's
            {"card": blocked.pk},
        ],
        "charger": [{"charger": world.charger_b1.pk}, {"charger": 10**9}],
    }
    for field, payloads in cases.items():
        for payload in payloads:
            response = reserve(world, **payload)
            assert response.status_code == 400, (payload, response.content)
            error = response.json()["error"]
            assert error["code"] == "invalid"
            assert field in error["fields"], (payload, error)
    assert not Reservation.objects.exists()
    assert not Command.objects.filter(action="ReserveNow").exists()

    response = reserve(world, connector_id=0)  # A1 has one connector: "any" makes no sense
    assert response.json()["error"]["fields"]["connector_id"] == [
        "A1 does not reserve any connector (0): choose a connector."
    ]


def test_a_held_connector_is_not_reserved_twice(
    world: World, a1: TestCharger, a2: TestCharger
) -> None:
    a2_reservation = {"charger": world.charger_a2.pk, "user": world.dora.pk}
    assert reserved(world, **a2_reservation, connector_id=1)["status"] == "active"
    for connector in (1, 0):  # the same connector, or "any" while one is held
        response = reserve(world, **a2_reservation, connector_id=connector)
        assert response.status_code == 400
        [message] = response.json()["error"]["fields"]["connector_id"]
        assert message.startswith("Connector 1 of A2 is already reserved (reservation ")
    assert reserved(world, **a2_reservation, connector_id=2)["status"] == "active"
    api_as(world.alice).post(f"/api/v1/reservations/{Reservation.objects.first().pk}/cancel/")
    assert reserve(world, **a2_reservation, connector_id=0).status_code == 400  # 1 still held


def configured(charger: Any, **keys: str) -> None:
    """What the charger reported to GetConfiguration at its last boot."""
    entries = [{"key": key, "value": value, "readonly": True} for key, value in keys.items()]
    charger.configuration = {"configurationKey": entries}
    charger.save(update_fields=["configuration"])


def test_what_the_charger_reported_at_boot_decides_what_may_be_reserved(
    world: World, a1: TestCharger, a2: TestCharger
) -> None:
    configured(world.charger_a1, SupportedFeatureProfiles="Core,LocalAuthListManagement")
    response = reserve(world)
    assert response.json()["error"]["fields"]["charger"] == [
        "A1 does not take reservations (its SupportedFeatureProfiles leave out Reservation)."
    ]
    configured(world.charger_a1, SupportedFeatureProfiles="Core, Reservation")
    assert reserved(world)["status"] == "active"

    configured(world.charger_a2, ReserveConnectorZeroSupported="false")
    response = reserve(world, charger=world.charger_a2.pk, connector_id=0)
    assert response.status_code == 400
    configured(world.charger_a2, ReserveConnectorZeroSupported="TRUE")
    body = reserved(world, charger=world.charger_a2.pk, connector_id=0)
    assert (body["status"], a2.received[-1][3]["connectorId"]) == ("active", 0)


def test_only_owners_and_installers_reserve(world: World, a1: TestCharger) -> None:
    response = reserve(world, "dora")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Only owners and installers of the installation reserve connectors."
    )
    assert reserve(world, "oscar").status_code == 400  # another tenant's charger: unknown
    installer = reserve(world, "ingrid", user=world.ingrid.pk, wait_s=5)
    assert (installer.status_code, installer.json()["status"]) == (201, "active")


def test_the_list_filters_by_installation_charger_and_status(world: World, a1: TestCharger) -> None:
    first = reserved(world)["id"]
    api_as(world.alice).post(f"/api/v1/reservations/{first}/cancel/")
    second = reserved(world, user=world.dave.pk)["id"]
    alice = api_as(world.alice)

    def ids(query: str) -> list[int]:
        response = alice.get(f"/api/v1/reservations/?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("") == [second, first]
    assert ids("status=active") == [second]
    assert ids("status=cancelled") == [first]
    assert ids(f"installation={world.site_a.pk}") == [second, first]
    assert ids(f"installation={world.site_b.pk}") == []
    assert ids(f"charger={world.charger_a1.pk}&user={world.dave.pk}") == [second]
    assert api_as(world.oscar).get("/api/v1/reservations/").json()["results"] == []


def test_a_reservation_id_beyond_32_bits_is_refused_not_a_crash(
    world: World, a1: TestCharger
) -> None:
    start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "timestamp": T0}
    reply = a1.call("StartTransaction", {**start, "reservationId": 2**31})
    assert reply[:3] == [4, "m1", "PropertyConstraintViolation"], reply
    assert reply[4] == {"cause": "reservationId is not a 32-bit integer"}
    assert not ChargeSession.objects.exists()
    assert a1.heartbeat_answers()


def held_for_dora(world: World) -> Reservation:
    return Reservation.objects.create(
        charger=world.charger_a1,
        connector_id=1,
        user=world.dora,
        id_tag="DORA-1",
        expires_at=timezone.now() + timedelta(minutes=30),
        status=ReservationStatus.ACTIVE,
        created_by=world.alice,
    )


# (persona, what, expected status): 404 "may not even see it", 403 "sees it, may not do this".
PERMISSIONS = [
    *[(p, "create", s) for p, s in [("alice", 201), ("ingrid", 201), ("dora", 403), ("dave", 403)]],
    ("oscar", "create", 400),  # another tenant's charger does not exist for them
    *[(p, "read", s) for p, s in [("alice", 200), ("ingrid", 200), ("dora", 200), ("dave", 404)]],
    ("oscar", "read", 404),
    *[(p, "cancel", s) for p, s in [("alice", 200), ("ingrid", 200), ("dora", 200), ("dave", 404)]],
    ("oscar", "cancel", 404),
    *[(p, "patch", s) for p, s in [("alice", 405), ("dora", 405), ("oscar", 405)]],
    *[(p, "delete", s) for p, s in [("alice", 405), ("dora", 405), ("oscar", 405)]],
]


@pytest.mark.parametrize(("persona", "what", "expected"), PERMISSIONS)
def test_permission_table(world: World, persona: str, what: str, expected: int) -> None:
    client = api_as(getattr(world, persona))
    if what == "create":
        response = reserve(world, persona)  # A1 offline here: rejected at once when allowed
    else:
        url = f"/api/v1/reservations/{held_for_dora(world).pk}/"
        response = {
            "read": lambda: client.get(url),
            "cancel": lambda: client.post(f"{url}cancel/"),
            "patch": lambda: client.patch(url, {"connector_id": 2}, format="json"),
            "delete": lambda: client.delete(url),
        }[what]()
    assert response.status_code == expected, response.content


def test_a_start_from_the_portal_on_a_connector_held_for_another_is_refused(
    world: World, a1: TestCharger
) -> None:
    reserved(world)  # for dora, with her app idTag
    dave = api_as(world.dave).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a1.pk, "connector_id": 1}
    )
    assert dave.status_code == 400
    [message] = dave.json()["error"]["fields"]["connector_id"]
    assert message.startswith("Connector 1 of A1 is reserved until ")
    dora = api_as(world.dora).post(
        "/api/v1/remote-starts/",
        {"charger": world.charger_a1.pk, "connector_id": 1, "wait_s": 5},
        format="json",
    )
    assert (dora.status_code, dora.json()["status"]) == (201, "accepted")
    [call] = [m for m in a1.received if m[2] == "RemoteStartTransaction"]
    assert call[3] == {"connectorId": 1, "idTag": virtual_id_tag(world.dora.pk)}
    # The charger starts for her idTag with the reservation: it is used, the session hers.
    start = {"connectorId": 1, "idTag": virtual_id_tag(world.dora.pk), "meterStart": 0}
    reply = a1.result(
        "StartTransaction",
        {**start, "timestamp": T0, "reservationId": Reservation.objects.get().pk},
    )
    assert reply["idTagInfo"]["status"] == "Accepted"
    assert ChargeSession.objects.get().user == world.dora
    assert Reservation.objects.get().status == ReservationStatus.USED


def test_a_start_replayed_from_the_offline_queue_uses_a_reservation_expired_meanwhile(
    world: World, a1: TestCharger
) -> None:
    reservation = Reservation.objects.get(pk=reserved(world)["id"])
    started = timezone.now() - timedelta(minutes=10)
    Reservation.objects.filter(pk=reservation.pk).update(
        created_at=started - timedelta(minutes=20),
        expires_at=started + timedelta(minutes=5),
        status=ReservationStatus.EXPIRED,
    )
    late = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "reservationId": reservation.pk}
    a1.result("StartTransaction", {**late, "timestamp": started.isoformat()})
    reservation.refresh_from_db()
    assert (reservation.status, reservation.ended_at) == (ReservationStatus.USED, started)
    # One started after the expiry does not.
    other = Reservation.objects.get(pk=reserved(world)["id"])
    Reservation.objects.filter(pk=other.pk).update(
        created_at=started - timedelta(minutes=20),
        expires_at=started - timedelta(minutes=1),
        status=ReservationStatus.EXPIRED,
    )
    a1.result(
        "StartTransaction",
        {
            **late,
            "reservationId": other.pk,
            "timestamp": (started + timedelta(minutes=1)).isoformat(),
        },
    )
    other.refresh_from_db()
    assert other.status == ReservationStatus.EXPIRED


def test_a_start_from_the_portal_on_a_connector_held_for_the_drivers_card_is_refused(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    """The charger holds the connector for the card's idTag (OCPP 1.6 5.13): a start from the
    portal, with her app idTag, would not be let in; she is told to use the card instead."""
    reserved(world, card=dora_card.pk)
    dora = api_as(world.dora).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a1.pk, "connector_id": 1}
    )
    assert dora.status_code == 400
    [message] = dora.json()["error"]["fields"]["connector_id"]
    assert message.startswith("Connector 1 of A1 is reserved for your card until ")
    assert [m for m in a1.received if m[2] == "RemoteStartTransaction"] == []


def test_the_shortest_reservation_offered_is_taken(world: World, a1: TestCharger) -> None:
    """One minute is the least the API and the page offer (duration_minutes, minutes): it is
    counted from the request, not refused because the check came a moment later."""
    body = reserved(world, duration_minutes=1)
    assert body["status"] == "active"


def test_until_is_told_in_the_installations_time_zone(world: World, a1: TestCharger) -> None:
    """The harbour is in Europe/Oslo: a refusal names the expiry as the drivers there read it."""
    expires_at = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    reserved(world, expires_at=expires_at.isoformat())
    dave = api_as(world.dave).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a1.pk, "connector_id": 1}
    )
    oslo = expires_at.astimezone(ZoneInfo("Europe/Oslo")).strftime("%H:%M")
    assert dave.json()["error"]["fields"]["connector_id"] == [
        f"Connector 1 of A1 is reserved until {oslo}."
    ]
    again = reserve(world, expires_at=expires_at.isoformat())
    assert f"until {oslo})" in again.json()["error"]["fields"]["connector_id"][0]


def test_a_start_from_before_a_reservation_was_made_does_not_use_it(
    world: World, a1: TestCharger, dora_card: ChargeCard
) -> None:
    """A charger whose clock is in the past (no real-time clock, not set yet) or a start
    replayed from long ago: reservations of that idTag made after the start and since expired
    stay expired, not all of them marked used by one session."""
    earlier = Reservation.objects.get(pk=reserved(world, card=dora_card.pk)["id"])
    Reservation.objects.filter(pk=earlier.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1),
        created_at=timezone.now() - timedelta(minutes=31),
        status=ReservationStatus.EXPIRED,
    )
    start = {"connectorId": 1, "idTag": "DORA-HARBOUR", "meterStart": 0}
    a1.result("StartTransaction", {**start, "timestamp": "2000-01-01T00:00:00Z"})
    earlier.refresh_from_db()
    assert (earlier.status, earlier.session) == (ReservationStatus.EXPIRED, None)
