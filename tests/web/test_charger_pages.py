"""Charger pages: register (password once), edit, rotate the password, remove."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargers.models import Charger
from tests.conftest import World
from tests.web.conftest import CHARGER_DEFAULTS, field_errors

pytestmark = pytest.mark.django_db


ClientAs = Callable[[User], Client]

# ---------- Chargers ----------


def test_registering_a_charger_shows_its_password_once(world: World, client_as: ClientAs) -> None:
    client = client_as(world.ingrid)
    response = client.post(
        reverse("chargers:register", args=[world.site_a.pk]),
        {
            "name": "A3",
            "ocpp_identity": "HARBOUR-A3",
            "circuit": world.row_a.pk,
            "connector_count": "2",
        }
        | CHARGER_DEFAULTS,
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    password = re.search(r'data-testid="ocpp-password">([^<]+)</code>', html).group(1)
    charger = Charger.objects.get(ocpp_identity="HARBOUR-A3")
    assert charger.check_ocpp_password(password)
    assert password not in charger.ocpp_password_hash
    assert "ws://127.0.0.1:9000/ocpp/HARBOUR-A3" in html
    assert charger.connectors.count() == 2
    assert charger.installation == world.site_a

    detail = client.get(reverse("chargers:detail", args=[charger.pk])).content.decode()
    assert password not in detail
    assert "HARBOUR-A3" in detail
    assert password not in str(dict(client.session))


def test_registering_a_charger_that_tried_to_connect_prefills_its_identity(
    world: World, client_as: ClientAs
) -> None:
    url = reverse("chargers:register", args=[world.site_a.pk])
    html = client_as(world.alice).get(url, {"ocpp_identity": "NEW-42"}).content.decode()
    assert 'value="NEW-42"' in html


def test_charger_form_shows_field_messages(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    url = reverse("chargers:register", args=[world.site_a.pk])
    data = {
        "name": "A1",
        "ocpp_identity": "HARBOUR-A1",
        "circuit": world.row_a.pk,
        "connector_count": "1",
    }
    response = client.post(
        url, data | CHARGER_DEFAULTS | {"max_current_a": "40", "min_current_a": "50"}
    )
    assert response.status_code == 200
    assert field_errors(response, "ocpp_identity") == [
        "Charger with this OCPP identity already exists."
    ]
    assert field_errors(response, "max_current_a") == ["40 A is above circuit Row A (32 A)."]
    assert field_errors(response, "min_current_a") == [
        "The minimum current is above the maximum current."
    ]
    response = client.post(url, data | CHARGER_DEFAULTS | {"ocpp_identity": "bad identity!"})
    assert field_errors(response, "ocpp_identity")
    assert field_errors(response, "name") == [
        "Another charger of this installation already has this name."
    ]
    assert Charger.objects.filter(installation=world.site_a).count() == 2


def test_editing_a_charger(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    response = client.post(
        reverse("chargers:edit", args=[world.charger_a1.pk]),
        {"name": "A1 west", "ocpp_identity": "HARBOUR-A1", "circuit": world.main_a.pk}
        | CHARGER_DEFAULTS,
    )
    assert response.url == reverse("chargers:detail", args=[world.charger_a1.pk])
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.name == "A1 west"
    assert world.charger_a1.circuit == world.main_a


def test_rotating_the_ocpp_password(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    old_hash = world.charger_a1.ocpp_password_hash
    assert (
        client.get(reverse("chargers:rotate_password", args=[world.charger_a1.pk])).status_code
        == 405
    )
    response = client.post(reverse("chargers:rotate_password", args=[world.charger_a1.pk]))
    assert "no-store" in response["Cache-Control"]
    password = re.search(
        r'data-testid="ocpp-password">([^<]+)</code>', response.content.decode()
    ).group(1)
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.ocpp_password_hash != old_hash
    assert world.charger_a1.check_ocpp_password(password)


def test_removing_a_charger(world: World, client_as: ClientAs) -> None:
    response = client_as(world.alice).post(reverse("chargers:delete", args=[world.charger_a2.pk]))
    assert response.url == reverse("installations:chargers", args=[world.site_a.pk])
    assert not Charger.objects.filter(pk=world.charger_a2.pk).exists()
