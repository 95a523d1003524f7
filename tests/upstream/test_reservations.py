"""Upstream's ReserveNow / CancelReservation, end to end: a real central system reserves a
connector of the charge point Fusebox presents; it becomes a Fusebox reservation with no driver,
held for upstream's idTag, sent to a test charger behind the bridge with Fusebox's id; the
charger's answer goes back; the card's StartTransaction uses it and upstream sees its own
reservationId; the site's rules (one reservation per connector, expiry, connector 0) answer
without asking the charger (docs/upstream.md, "Reservations from upstream")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from ocpp.exceptions import NotSupportedError, PropertyConstraintViolationError
from ocpp.v16 import call

from auth_access import reservations
from auth_access.choices import ReservationStatus
from auth_access.models import Reservation
from chargers.models import ChargeSession
from commands.choices import CommandSource
from commands.models import Command
from tests.conftest import World, api_as
from tests.ocpp.conftest import Chargers, TestCharger, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream.choices import UpstreamAuthorization

pytestmark = pytest.mark.usefixtures("transactional_db")


def _in(minutes: float) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def a1(world: World, central: Central, chargers: Chargers) -> TestCharger:
    bridge_to(central, world.charger_a1, authorization=UpstreamAuthorization.UPSTREAM)
    charger = chargers.connect(world.charger_a1, accepted=False)
    boot(charger)
    eventually(lambda: central.is_connected(world.charger_a1.ocpp_identity))
    eventually(lambda: central.of(world.charger_a1.ocpp_identity, "BootNotification"))
    return charger


def _sent_to_charger(a1: TestCharger, action: str) -> list[dict]:
    return [frame[3] for frame in a1.received if frame[2] == action]


def _reserve(world: World, central: Central, **fields: object) -> object:
    request = {
        "connector_id": 1,
        "expiry_date": _iso(_in(30)),
        "id_tag": "UP-RES-1",
        "reservation_id": 777,
        **fields,
    }
    return central.call(world.charger_a1.ocpp_identity, call.ReserveNow(**request))


def test_upstream_reserves_the_card_starts_there_and_upstream_sees_its_reservation_id(
    world: World, central: Central, a1: TestCharger
) -> None:
    expiry = _in(30)
    answer = _reserve(
        world, central, expiry_date=_iso(expiry), parent_id_tag="UP-PARENT", reservation_id=777
    )
    assert answer.status == "Accepted"
    reservation = Reservation.objects.get()
    assert (reservation.user, reservation.upstream_host, reservation.upstream_reservation_id) == (
        None, "127.0.0.1", 777,
    )  # fmt: skip
    assert (reservation.status, reservation.charger_answer) == (
        ReservationStatus.ACTIVE,
        "Accepted",
    )
    assert reservation.expires_at == expiry
    assert _sent_to_charger(a1, "ReserveNow") == [
        {
            "connectorId": 1,
            "expiryDate": _iso(expiry),
            "idTag": "UP-RES-1",
            "reservationId": reservation.pk,  # Fusebox's id on the charger
            "parentIdTag": "UP-PARENT",
        }
    ]
    assert reservation.reserve_command.source == CommandSource.UPSTREAM
    # Another card is refused on the reserved connector (a start from the portal).
    refused = api_as(world.dora).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a1.pk, "connector_id": 1}
    )
    assert refused.status_code == 400
    assert "is reserved until" in refused.json()["error"]["fields"]["connector_id"][0]
    # The reserved card starts with Fusebox's reservation id: accepted (upstream's reservation
    # vouches for it) and the reservation is used.
    started = a1.result(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "UP-RES-1",
            "meterStart": 0,
            "timestamp": _iso(_in(0)),
            "reservationId": reservation.pk,
        },
    )
    assert started["idTagInfo"]["status"] == "Accepted"
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.USED
    assert reservation.session_id == started["transactionId"]
    assert ChargeSession.objects.get().reservation_id == reservation.pk
    [start] = eventually(
        lambda: central.of(world.charger_a1.ocpp_identity, "StartTransaction"), timeout=15
    )
    assert start.payload["reservationId"] == 777  # upstream's own id
    assert central.violations == []
    # It has ended: cancelling it now is Rejected, the charger not asked.
    cancelled = central.call(
        world.charger_a1.ocpp_identity, call.CancelReservation(reservation_id=777)
    )
    assert cancelled.status == "Rejected"
    assert _sent_to_charger(a1, "CancelReservation") == []


def test_a_fusebox_reservation_is_not_named_to_upstream(
    world: World, central: Central, a1: TestCharger
) -> None:
    ours = api_as(world.alice).post(
        "/api/v1/reservations/",
        {"charger": world.charger_a1.pk, "connector_id": 1, "user": world.alice.pk, "wait_s": 5},
        format="json",
    )
    assert ours.status_code == 201, ours.content
    started = a1.result(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": Reservation.objects.get().id_tag,
            "meterStart": 0,
            "timestamp": _iso(_in(0)),
            "reservationId": ours.json()["id"],
        },
    )
    assert Reservation.objects.get().session_id == started["transactionId"]
    [start] = eventually(
        lambda: central.of(world.charger_a1.ocpp_identity, "StartTransaction"), timeout=15
    )
    assert "reservationId" not in start.payload  # upstream never knew of it
    assert central.violations == []


@pytest.mark.parametrize("status", ["Faulted", "Occupied", "Rejected", "Unavailable"])
def test_the_chargers_own_answer_goes_back(
    world: World, central: Central, a1: TestCharger, status: str
) -> None:
    a1.answers["ReserveNow"] = {"status": status}
    assert _reserve(world, central).status == status
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.charger_answer) == (ReservationStatus.REJECTED, status)


def test_the_sites_rules_answer_without_asking_the_charger(
    world: World, central: Central, a1: TestCharger
) -> None:
    # A Fusebox reservation holds the connector: Occupied.
    held = api_as(world.alice).post(
        "/api/v1/reservations/",
        {"charger": world.charger_a1.pk, "connector_id": 1, "user": world.dora.pk, "wait_s": 5},
        format="json",
    )
    assert held.status_code == 201, held.content
    assert _reserve(world, central).status == "Occupied"
    # An expiry in the past, or beyond 24 hours: Rejected.
    assert _reserve(world, central, expiry_date=_iso(_in(-1)), reservation_id=5).status == (
        "Rejected"
    )
    assert _reserve(world, central, expiry_date=_iso(_in(25 * 60))).status == "Rejected"
    # Connector 0 (any) of a one-connector charger: OCPP 1.6 lets a charge point refuse it.
    assert _reserve(world, central, connector_id=0).status == "Rejected"
    assert len(_sent_to_charger(a1, "ReserveNow")) == 1  # Fusebox's own only
    assert Reservation.objects.count() == 1
    # A connector the charger does not have, and a date without a zone: the CallError.
    with pytest.raises(PropertyConstraintViolationError):
        _reserve(world, central, connector_id=7)
    with pytest.raises(PropertyConstraintViolationError):
        _reserve(world, central, expiry_date="2026-12-04T18:00:00")


def test_not_allowed_it_is_not_supported_and_never_sent(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_a1, allowed_commands=["RemoteStartTransaction"])
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    eventually(lambda: central.of(world.charger_a1.ocpp_identity, "BootNotification"))
    with pytest.raises(NotSupportedError):
        _reserve(world, central)
    with pytest.raises(NotSupportedError):
        central.call(world.charger_a1.ocpp_identity, call.CancelReservation(reservation_id=8))
    assert _sent_to_charger(a1, "ReserveNow") == [] and not Reservation.objects.exists()


def test_cancel_and_replace_and_expiry(world: World, central: Central, a1: TestCharger) -> None:
    identity = world.charger_a1.ocpp_identity
    unknown = central.call(identity, call.CancelReservation(reservation_id=4242))
    assert unknown.status == "Rejected"
    assert _reserve(world, central, reservation_id=11).status == "Accepted"
    ours = Reservation.objects.get().pk
    # The same id again replaces it (OCPP 1.6 5.13): same Fusebox id, new idTag and expiry.
    later = _in(50)
    assert (
        _reserve(
            world, central, reservation_id=11, id_tag="UP-RES-2", expiry_date=_iso(later)
        ).status
        == "Accepted"
    )
    replaced = Reservation.objects.get()
    assert (replaced.pk, replaced.id_tag, replaced.expires_at) == (ours, "UP-RES-2", later)
    assert [p["reservationId"] for p in _sent_to_charger(a1, "ReserveNow")] == [ours, ours]
    # Cancel: the charger hears Fusebox's id and upstream gets the charger's answer.
    a1.answers["CancelReservation"] = {"status": "Accepted"}
    assert central.call(identity, call.CancelReservation(reservation_id=11)).status == "Accepted"
    assert _sent_to_charger(a1, "CancelReservation") == [{"reservationId": ours}]
    cancelled = Reservation.objects.get()
    assert (cancelled.status, cancelled.cancelled_by) == (ReservationStatus.CANCELLED, None)
    # Expiry: the sweep ends it at its expiryDate; then it is unknown to CancelReservation.
    assert _reserve(world, central, reservation_id=12, expiry_date=_iso(_in(2))).status == (
        "Accepted"
    )
    assert reservations.expire(_in(3))["expired"] == 1
    assert Reservation.objects.get(upstream_reservation_id=12).status == ReservationStatus.EXPIRED
    assert central.call(identity, call.CancelReservation(reservation_id=12)).status == "Rejected"
    assert len(_sent_to_charger(a1, "CancelReservation")) == 1
    assert Command.objects.filter(source=CommandSource.UPSTREAM).count() == 4


def test_the_pages_and_the_api_show_a_reservation_without_a_driver(
    world: World, central: Central, a1: TestCharger, admin_client: Client
) -> None:
    assert _reserve(world, central).status == "Accepted"
    reservation = Reservation.objects.get()
    browser = Client()
    browser.force_login(world.alice)
    page = browser.get(reverse("chargers:detail", args=[world.charger_a1.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "by 127.0.0.1" in html and "idTag UP-RES-1" in html
    assert "Cancel the reservation of connector 1 for idTag UP-RES-1 (upstream)?" in html
    listed = api_as(world.alice).get("/api/v1/reservations/").json()["results"]
    assert [
        (r["id"], r["user"], r["upstream_host"], r["upstream_reservation_id"]) for r in listed
    ] == [(reservation.pk, None, "127.0.0.1", 777)]
    # Another tenant sees nothing of it.
    assert api_as(world.oscar).get(f"/api/v1/reservations/{reservation.pk}/").status_code == 404
    # A driver's own pages leave it out (it is nobody's).
    assert api_as(world.dora).get("/api/v1/reservations/").json()["results"] == []
    admin = admin_client.get("/admin/auth_access/reservation/")
    assert admin.status_code == 200 and "127.0.0.1" in admin.content.decode()
    change = admin_client.get(f"/admin/auth_access/reservation/{reservation.pk}/change/")
    assert change.status_code == 200
    assert (
        str(reservation)
        == f"Reservation {reservation.pk} of A1 (HARBOUR-A1) #1 for idTag UP-RES-1 (upstream)"
    )
    # The owner cancels it in Fusebox: the charger is told (upstream learns from the charger).
    cancelled = api_as(world.alice).post(f"/api/v1/reservations/{reservation.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
