"""The planning API: ``POST installations/{id}/what-if/`` and ``POST what-if/new-site/``."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import World, api_as
from tests.upstream.test_config_api import token_client

pytestmark = pytest.mark.django_db


def what_if(client: APIClient, world: World, **body: Any) -> Any:
    return client.post(f"/api/v1/installations/{world.site_a.pk}/what-if/", body, format="json")


def test_the_owner_gets_today_validated_against_history_and_the_changed_setup(
    world: World, history: float
) -> None:
    response = what_if(
        api_as(world.alice),
        world,
        days=28,
        extra_chargers=2,
        extra_chargers_circuit=world.row_a.pk,
        extra_charger_max_current_a=16,
        main_fuse_a=50,
        more_cars_percent=50,
    )
    assert response.status_code == 200, response.json()
    report = response.json()
    validation = report["validation"]
    assert validation["recorded_kwh"] == history == 252.0
    assert validation["within_tolerance"] is True
    assert abs(validation["difference_percent"]) <= 5
    today, changed = report["scenarios"]
    assert (today["name"], today["chargers"], today["main_fuse_a"]) == ("today", 2, 63)
    assert (changed["name"], changed["chargers"], changed["main_fuse_a"]) == ("changed", 4, 50)
    assert today["cars"] == 28 and today["cars_short"] == 0
    assert changed["cars"] > today["cars"]
    assert today["peak_main_a"] == [32.0, 16.0, 16.0]  # and a 1-phase car on L1 (A2)
    assert max(changed["peak_main_a"]) <= 50
    assert len(today["day_profile"]) == 96
    assert "rounded to 15-minute steps" in report["notes"][0]
    assert "assumes none" in report["notes"][1]  # no balancing decision: no base load
    assert "2 more 3-phase 16 A chargers on Row A" in report["changes"]


def test_the_installer_may_plan_and_drivers_and_other_tenants_get_404(
    world: World, history: float
) -> None:
    assert what_if(api_as(world.ingrid), world).status_code == 200
    for user in (world.dora, world.dave, world.oscar):
        response = what_if(api_as(user), world)
        assert response.status_code == 404, user
        assert response.json()["error"]["code"] == "not_found"
    assert what_if(APIClient(), world).status_code in (401, 403)
    # A token limited to another installation does not reach this one; a read-only token may
    # not run one (a what-if is OPERATE).
    elsewhere = token_client(world.alice, installations=[world.site_c])
    assert what_if(elsewhere, world).status_code == 404
    assert what_if(token_client(world.alice, read_only=True), world).status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"more_cars_percent": 10000}, "more_cars_percent", "less than or equal to 500"),
        ({"main_fuse_a": 20}, "main_fuse_a", "Row A (32 A) would be above"),
        ({"failsafe_current_a": 40}, "failsafe_current_a", "a failsafe of at most"),
        ({"extra_chargers": 3}, "extra_chargers_circuit", "Choose the circuit"),
        ({"days": 0}, "days", "greater than or equal to 1"),
        ({"extra_chargers": -1}, "extra_chargers", "greater than or equal to 0"),
        ({"main_fuse_a": "lots"}, "main_fuse_a", "A valid number is required"),
    ],
)
def test_a_change_that_cannot_be_simulated_answers_400_naming_the_field(
    world: World, history: float, body: dict[str, Any], field: str, words: str
) -> None:
    response = what_if(api_as(world.alice), world, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert words in " ".join(error["fields"][field]), error


def test_another_installations_circuit_is_not_one_of_this_installation(
    world: World, history: float
) -> None:
    response = what_if(api_as(world.alice), world, circuit=world.main_b.pk, circuit_a=40)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["circuit"] == ["Not a circuit of this installation."]


def test_a_period_without_sessions_and_a_site_without_chargers_answer_400(world: World) -> None:
    response = what_if(api_as(world.alice), world, days=7)
    assert response.status_code == 400
    assert "No charging sessions began" in response.json()["error"]["fields"]["days"][0]
    response = api_as(world.ingrid).post(
        f"/api/v1/installations/{world.site_c.pk}/what-if/", {}, format="json"
    )
    assert response.status_code == 400
    assert "no chargers" in response.json()["error"]["fields"]["extra_chargers"][0]


def test_a_new_site_is_planned_from_a_preset_deterministically(world: World) -> None:
    body = {
        "preset": "office",
        "main_fuse_a": 100,
        "circuits": 2,
        "circuit_a": 63,
        "chargers_per_circuit": 6,
        "charger_max_current_a": 16,
        "days": 7,
        "seed": 4,
    }
    client = api_as(world.dora)  # no tenant data: any signed-in user
    first = client.post("/api/v1/what-if/new-site/", body, format="json")
    assert first.status_code == 200, first.json()
    report = first.json()
    assert report["validation"] is None
    (plan,) = report["scenarios"]
    assert plan["chargers"] == 12 and plan["cars"] > 30
    assert max(plan["peak_main_a"]) <= 100
    assert (
        plan == client.post("/api/v1/what-if/new-site/", body, format="json").json()["scenarios"][0]
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chargers_per_circuit": 0}, "chargers_per_circuit"),
        ({"circuit_a": 200}, "circuit_a"),
        ({"failsafe_current_a": 16}, "failsafe_current_a"),
        ({"preset": "castle"}, "preset"),
        ({"days": 400}, "days"),
    ],
)
def test_a_new_site_that_cannot_be_simulated_answers_400(
    world: World, change: dict[str, Any], field: str
) -> None:
    body = {
        "preset": "depot",
        "main_fuse_a": 100,
        "circuit_a": 63,
        "chargers_per_circuit": 8,
        "charger_max_current_a": 16,
        **change,
    }
    response = api_as(world.alice).post("/api/v1/what-if/new-site/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
