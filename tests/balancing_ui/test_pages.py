"""The Load tab for each persona, without JavaScript, and the balancing settings in the forms."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargers.models import Charger
from installations.forms import CircuitForm, InstallationForm
from installations.models import Circuit, Installation
from tests.balancing_ui.conftest import give_limit, record_decision, set_live
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


@pytest.fixture
def lively(world: World) -> World:
    set_live(world.charger_a1, (14.0, 14.2, 13.9))
    give_limit(world.charger_a1, 16)
    set_live(world.charger_a2, (0.0, 0.0, 0.0))
    give_limit(world.charger_a2, 0)
    record_decision(
        world.site_a,
        paused=["HARBOUR-A2"],
        commands_sent=1,
        notes=[f"HARBOUR-A2 paused: circuit-{world.main_a.pk} cannot give every car 6 A (L1 full)"],
    )
    return world


def load_url(world: World) -> str:
    return reverse("balancing:load", args=[world.site_a.pk])


@pytest.mark.parametrize("persona", ["alice", "ingrid"])
def test_owners_and_installers_see_fuses_chargers_and_decisions(
    lively: World, client_as: ClientAs, persona: str
) -> None:
    response = client_as(getattr(lively, persona)).get(load_url(lively))
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert f'href="{load_url(lively)}" class="active" aria-current="page"' in html
    assert html.count("data-fuse=") == 2 and html.count('class="phase-bar ') == 6
    assert 'aria-label="Row A L1"' in html and 'aria-valuenow="14.0"' in html
    assert html.count("data-charger=") == 2
    assert "A2 paused: Main fuse cannot give every car 6 A (L1 full)" in html
    assert "Main fuse cannot give every car 6 A (L1 full)." in html  # A2's row says why
    assert "1 limit sent" in html
    assert 'data-url="/api/v1/installations/' in html and "js/balancing" in html


def test_every_installation_page_links_to_the_load_tab(world: World, client_as: ClientAs) -> None:
    for persona in (world.alice, world.dora):
        html = client_as(persona).get(reverse("installations:detail", args=[world.site_a.pk]))
        assert f'href="{load_url(world)}"' in html.content.decode()


@pytest.mark.parametrize("persona", ["dora", "dave"])
def test_drivers_see_the_chargers_they_may_use_without_fuses_or_decisions(
    lively: World, client_as: ClientAs, persona: str
) -> None:
    response = client_as(getattr(lively, persona)).get(load_url(lively))
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "data-fuse=" not in html and "Latest decisions" not in html
    expected = 2 if persona == "dora" else 1  # dave may charge on A1 only
    assert html.count("data-charger=") == expected
    assert "Row A" not in html


def test_an_outsider_gets_404_and_a_visitor_the_login_page(
    world: World, client_as: ClientAs
) -> None:
    assert client_as(world.oscar).get(load_url(world)).status_code == 404
    response = Client().get(load_url(world))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_empty_site_explains_itself(world: World, client_as: ClientAs) -> None:
    response = client_as(world.oscar).get(reverse("balancing:load", args=[world.site_b.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "No decisions yet" in html and html.count("data-charger=") == 1


# ---------- Balancing settings in the forms ----------


def test_installers_set_each_chargers_balancing_settings(world: World, client_as: ClientAs) -> None:
    url = reverse("chargers:edit", args=[world.charger_a2.pk])
    page = client_as(world.ingrid).get(url).content.decode()
    for field in ["phases", "phase_rotation", "can_switch_phases", "min_current_a",
                  "max_current_a", "priority", "circuit"]:  # fmt: skip
        assert f'name="{field}"' in page, field
    assert "most cars need 6 A" in page  # the help texts explain in plain words
    response = client_as(world.ingrid).post(
        url,
        {
            "name": "A2", "ocpp_identity": "HARBOUR-A2", "circuit": world.main_a.pk,
            "phases": 3, "phase_rotation": "L2L3L1", "can_switch_phases": "on",
            "min_current_a": 8, "max_current_a": 20, "priority": 5,
            "authorization_mode": "inherit",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()
    charger = Charger.objects.get(pk=world.charger_a2.pk)
    assert (charger.phase_rotation, charger.can_switch_phases, charger.priority) == (
        "L2L3L1", True, 5,
    )  # fmt: skip
    assert (charger.min_current_a, charger.max_current_a) == (8, 20)


def test_owners_set_failsafe_and_phase_imbalance(world: World, client_as: ClientAs) -> None:
    url = reverse("installations:edit", args=[world.site_a.pk])
    page = client_as(world.alice).get(url).content.decode()
    assert 'name="failsafe_current_a"' in page and 'name="max_phase_imbalance_a"' in page
    data = {
        "name": "Harbour car park", "address": "", "time_zone": "Europe/Oslo",
        "authorization_mode": "locked", "phases": 3, "voltage_v": 230, "network_type": "TN",
        "failsafe_current_a": 8, "max_phase_imbalance_a": 16, "price_per_kwh": "2.5",
        "currency": "NOK",
    }  # fmt: skip
    assert client_as(world.alice).post(url, data).status_code == 302
    site = Installation.objects.get(pk=world.site_a.pk)
    assert (site.failsafe_current_a, site.max_phase_imbalance_a) == (8, 16)


def test_a_failsafe_current_the_fuses_cannot_carry_is_refused_on_its_field(world: World) -> None:
    # A1 (Row A, max 32 A) and A2 (main fuse) at 40 A failsafe: 72 A on the 63 A main fuse.
    site = Installation.objects.get(pk=world.site_a.pk)
    form = InstallationForm(
        instance=site,
        data={
            "name": site.name, "time_zone": "Europe/Oslo", "authorization_mode": "locked",
            "phases": 3, "voltage_v": 230, "network_type": "TN", "failsafe_current_a": 40,
            "price_per_kwh": "0", "currency": "EUR",
        },
    )  # fmt: skip
    assert not form.is_valid()
    assert list(form.errors) == ["failsafe_current_a"]


def test_a_circuit_above_its_parent_is_refused_on_its_limit(world: World) -> None:
    circuits = Circuit.objects.filter(installation=world.site_a)
    form = CircuitForm(
        instance=Circuit.objects.get(pk=world.row_a.pk),
        circuits=circuits,
        data={"name": "Row A", "parent": world.main_a.pk, "max_current_a": 80},
    )
    assert not form.is_valid()
    assert list(form.errors) == ["max_current_a"]
    assert "above the parent circuit Main fuse (63 A)" in form.errors["max_current_a"][0]


def test_a_model_error_on_a_field_the_form_does_not_show_goes_above_the_form(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main fuse's form has no parent field; an error there must not become a 500."""
    from django.core.exceptions import ValidationError

    def clean(self: Circuit) -> None:
        raise ValidationError({"parent": "Not here.", "max_current_a": "Too much."})

    monkeypatch.setattr(Circuit, "clean", clean)
    form = CircuitForm(
        instance=Circuit.objects.get(pk=world.main_a.pk),
        circuits=Circuit.objects.filter(installation=world.site_a),
        data={"name": "Main fuse", "max_current_a": 63},
    )
    assert not form.is_valid()
    assert form.non_field_errors() == ["Not here."]
    assert form.errors["max_current_a"] == ["Too much."]
