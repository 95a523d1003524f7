"""The "Reservations" section of a charger's page: owners and installers reserve a connector
for a driver with an expiry, everyone sees the reservations they may see, the driver starts on
the connector held for them, and cancelling. (The charger's side, over real websockets, is in
tests/access/test_reservations.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from auth_access import reservation_views, reservations
from auth_access.choices import ReservationStatus
from auth_access.models import ChargeCard, Reservation
from auth_access.virtual_tags import virtual_id_tag
from chargers.choices import ConnectorStatus
from chargers.models import Charger
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from tests.access_ui.conftest import put_online
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """No bridge answers here: the page does not wait for one."""
    monkeypatch.setattr(reservation_views, "ANSWER_WAIT_S", 0)


def page(client: Client, charger: Charger) -> str:
    response = client.get(reverse("chargers:detail", args=[charger.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def section(html: str) -> str:
    start = html.index('id="reservations"')
    return html[start : html.index("</section>", start)]


def reserve(client: Client, charger: Charger, **fields: object) -> object:
    data = {"connector_id": 1, "minutes": 30, **fields}
    return client.post(reverse("access:reserve", args=[charger.pk]), data, follow=True)


def answer(command: Command, status: CommandStatus, charger_status: str) -> None:
    """What the bridge does with the charger's answer (``persistence.finish_command``)."""
    Command.objects.filter(pk=command.pk).update(
        status=status, response={"status": charger_status}, completed_at=timezone.now()
    )
    reservations.record_answer(command.pk)


def messages_of(response: object) -> list[str]:
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


def test_owners_get_the_form_with_the_drivers_who_may_charge_there(
    world: World, client_as: ClientAs
) -> None:
    ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-HARBOUR", installation=world.site_a, name="Fob"
    )
    ChargeCard.objects.create(user=world.dora, id_tag="DORA-OWN")  # her own: not the site's
    html = section(page(client_as(world.alice), world.charger_a1))
    assert "Reserve</button>" in html
    for person in ("Alice Owner", "Ingrid Installer", "Dora Driver", "Dave Driver"):
        assert person in html
    assert "Oscar" not in html
    assert "DORA-HARBOUR “Fob” · Dora Driver" in html and "DORA-OWN" not in html
    assert "Their app (they start from Fusebox)" in html
    assert 'value="30"' in html  # 30 minutes unless changed
    assert "Any connector" not in html  # one connector
    # Dave is named on A1 only; A2 has two connectors, so "any" is offered there.
    html = section(page(client_as(world.ingrid), world.charger_a2))
    assert "Dave Driver" not in html and "Any connector" in html


def test_a_driver_without_reservations_sees_no_section(world: World, client_as: ClientAs) -> None:
    assert 'id="reservations"' not in page(client_as(world.dora), world.charger_a1)


def test_an_owner_reserves_and_the_charger_answer_shows(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    card = ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-HARBOUR", installation=world.site_a
    )
    response = reserve(
        client_as(world.alice), world.charger_a1, user=world.dora.pk, card=card.pk, minutes=90
    )
    assert messages_of(response) == ["Reservation sent to A1; waiting for its answer."]
    reservation = Reservation.objects.get()
    assert (reservation.user, reservation.id_tag, reservation.status) == (
        world.dora, "DORA-HARBOUR", ReservationStatus.REQUESTED,
    )  # fmt: skip
    expected = timezone.now() + timedelta(minutes=90)
    assert abs((reservation.expires_at - expected).total_seconds()) < 10
    command = Command.objects.get(action=CommandAction.RESERVE_NOW)
    assert (command.source, command.requested_by, command.payload["reservationId"]) == (
        CommandSource.UI, world.alice, reservation.pk,
    )  # fmt: skip
    answer(command, CommandStatus.ACCEPTED, "Accepted")
    html = section(page(client_as(world.alice), world.charger_a1))
    assert 'data-status="active"' in html and "Dora Driver" in html
    assert "Card DORA-HARBOUR" in html and 'aria-label="Cancel reservation' in html


def test_the_charger_saying_occupied_shows_why(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    reserve(client_as(world.alice), world.charger_a1, user=world.dave.pk)
    command = Command.objects.get(action=CommandAction.RESERVE_NOW)
    answer(command, CommandStatus.REJECTED, "Occupied")
    html = section(page(client_as(world.alice), world.charger_a1))
    assert 'data-status="rejected"' in html
    assert "Occupied: The connector is in use (a car or another reservation)." in html
    assert Command.objects.get().payload["idTag"] == virtual_id_tag(world.dave.pk)
    assert "Cancel reservation" not in html  # nothing to cancel


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"connector_id": 9}, "Connector: Select a valid choice."),
        ({"minutes": 0}, "For (minutes): Ensure this value is greater than or equal to 1."),
        ({"minutes": 24 * 60 + 1}, "For (minutes): Ensure this value is less than or equal"),
        ({}, "Driver: This field is required."),
    ],
)
def test_bad_input_says_what_is_wrong(
    world: World, client_as: ClientAs, fields: dict[str, object], message: str
) -> None:
    put_online(world.charger_a1)
    response = reserve(client_as(world.alice), world.charger_a1, **fields)
    assert any(m.startswith(message) for m in messages_of(response)), messages_of(response)
    assert not Reservation.objects.exists()


def test_a_held_connector_cannot_be_reserved_twice(world: World, client_as: ClientAs) -> None:
    put_online(world.charger_a1)
    alice = client_as(world.alice)
    reserve(alice, world.charger_a1, user=world.dora.pk)
    response = reserve(alice, world.charger_a1, user=world.dave.pk)
    [message] = messages_of(response)
    assert message.startswith("Connector 1 of A1 is already reserved (reservation ")
    assert Reservation.objects.count() == 1


def test_drivers_may_not_reserve_and_other_tenants_get_404(
    world: World, client_as: ClientAs
) -> None:
    put_online(world.charger_a1)
    response = reserve(client_as(world.dora), world.charger_a1, user=world.dora.pk)
    assert messages_of(response) == [
        "Only owners and installers of the installation reserve connectors."
    ]
    url = reverse("access:reserve", args=[world.charger_a1.pk])
    assert client_as(world.oscar).post(url, {"user": world.oscar.pk}).status_code == 404
    assert not Reservation.objects.exists()


def test_the_driver_starts_on_the_connector_held_for_them_and_may_cancel(
    world: World, client_as: ClientAs
) -> None:
    put_online(world.charger_a1, ConnectorStatus.RESERVED)
    reservation = Reservation.objects.create(
        charger=world.charger_a1,
        connector_id=1,
        user=world.dora,
        id_tag=virtual_id_tag(world.dora.pk),
        expires_at=timezone.now() + timedelta(minutes=30),
        status=ReservationStatus.ACTIVE,
        created_by=world.alice,
    )
    dora, dave = client_as(world.dora), client_as(world.dave)
    html = page(dora, world.charger_a1)
    assert 'aria-label="Start charging on connector 1"' in html  # reserved, for her
    assert 'aria-label="Start charging on connector 1"' not in page(dave, world.charger_a1)
    assert 'id="reservations"' not in page(dave, world.charger_a1)
    assert f'aria-label="Cancel reservation {reservation.pk}"' in section(html)

    cancel = reverse("access:reservation_cancel", args=[reservation.pk])
    assert client_as(world.oscar).post(cancel).status_code == 404
    assert dave.post(cancel).status_code == 404
    response = dora.post(cancel, follow=True)
    assert messages_of(response) == [f"Reservation {reservation.pk} cancelled; A1 was told."]
    reservation.refresh_from_db()
    assert (reservation.status, reservation.cancelled_by) == (
        ReservationStatus.CANCELLED, world.dora,
    )  # fmt: skip
    command = Command.objects.get(action=CommandAction.CANCEL_RESERVATION)
    assert (command.payload, command.requested_by) == (
        {"reservationId": reservation.pk},
        world.dora,
    )
    response = dora.post(cancel, follow=True)
    assert messages_of(response) == ["This reservation has already ended (cancelled)."]


def test_a_charger_without_the_reservation_profile_gets_no_form(
    world: World, client_as: ClientAs
) -> None:
    world.charger_a2.configuration = {
        "configurationKey": [
            {"key": "SupportedFeatureProfiles", "value": "Core", "readonly": True},
            {"key": "ReserveConnectorZeroSupported", "value": "false", "readonly": True},
        ]
    }
    world.charger_a2.save(update_fields=["configuration"])
    html = section(page(client_as(world.alice), world.charger_a2))
    assert "A2 does not take reservations" in html and "Reserve</button>" not in html
    world.charger_a2.configuration["configurationKey"].pop(0)
    world.charger_a2.save(update_fields=["configuration"])
    html = section(page(client_as(world.alice), world.charger_a2))
    assert "Reserve</button>" in html and "Any connector" not in html


def test_a_connector_held_for_the_drivers_card_offers_no_start_from_the_page(
    world: World, client_as: ClientAs
) -> None:
    """The charger lets only the card's idTag in there (OCPP 1.6 5.13), not her app idTag."""
    put_online(world.charger_a1, ConnectorStatus.RESERVED)
    Reservation.objects.create(
        charger=world.charger_a1,
        connector_id=1,
        user=world.dora,
        id_tag="DORA-HARBOUR",
        expires_at=timezone.now() + timedelta(minutes=30),
        status=ReservationStatus.ACTIVE,
        created_by=world.alice,
    )
    html = page(client_as(world.dora), world.charger_a1)
    assert 'aria-label="Start charging on connector 1"' not in html
    assert 'data-status="active"' in section(html)
