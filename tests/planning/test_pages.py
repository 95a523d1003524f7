"""The Planning tab and Plan a new site, through Django's test client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import User
from chargers.models import ChargeSession
from tests.conftest import World
from tests.web.conftest import field_errors

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]
QUERY = {
    "days": 28,
    "extra_chargers": 2,
    "extra_chargers_circuit": "",
    "extra_charger_max_current_a": 16,
    "extra_charger_phases": 3,
    "main_fuse_a": 50,
    "more_cars_percent": 20,
}


def planning_url(world: World) -> str:
    return f"/installations/{world.site_a.pk}/planning/"


def test_the_owner_sees_today_against_the_changes_with_charts_and_exports(
    world: World, history: float, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    empty = client.get(planning_url(world))
    assert empty.status_code == 200
    assert b'data-testid="what-if-form"' in empty.content
    assert b'data-testid="planning-report"' not in empty.content
    query = {**QUERY, "extra_chargers_circuit": world.row_a.pk}
    response = client.get(planning_url(world), query)
    html = response.content.decode()
    assert response.status_code == 200
    assert "against 252.0 kWh recorded" in html and "within 5 %" in html
    assert html.count('data-testid="planning-chart"') == 2
    assert html.count("<svg") >= 2
    assert "2 more 3-phase 16 A chargers on Row A" in html
    assert "assumes none" in html  # no balancing decisions: no base load

    csv = client.get(planning_url(world), {**query, "export": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = b"".join(csv.streaming_content).decode()  # type: ignore[attr-defined]
    assert "Energy not delivered (kWh)" in text and "Replay against the record (%)" in text
    xlsx = client.get(planning_url(world), {**query, "export": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(BytesIO(b"".join(xlsx.streaming_content))).active  # type: ignore[attr-defined]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert any(row[:1] == ["Cars that left below their need"] for row in rows)


def test_drivers_and_other_tenants_get_404_and_the_installer_may_plan(
    world: World, client_as: ClientAs
) -> None:
    for user in (world.dora, world.dave, world.oscar):
        assert client_as(user).get(planning_url(world)).status_code == 404
    assert client_as(world.ingrid).get(planning_url(world)).status_code == 200
    assert Client().get(planning_url(world)).status_code == 302  # to the login
    owner_page = client_as(world.alice).get(f"/installations/{world.site_a.pk}/").content
    assert planning_url(world).encode() in owner_page
    driver_page = client_as(world.dora).get(f"/installations/{world.site_a.pk}/").content
    assert planning_url(world).encode() not in driver_page


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"main_fuse_a": 20}, "main_fuse_a", "would be above"),
        ({"more_cars_percent": 9000}, "more_cars_percent", "less than or equal to 500"),
        ({"failsafe_current_a": 40}, "failsafe_current_a", "failsafe of at most"),
        ({"days": 1}, "days", "No charging sessions began"),
    ],
)
def test_a_change_that_cannot_be_simulated_is_a_form_error(
    world: World,
    history: float,
    client_as: ClientAs,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    if field == "days":
        # The history's latest sessions began yesterday at 08:00 UTC: within the last day
        # before 08:00. Whatever the clock, none began in the last day.
        ChargeSession.objects.filter(started_at__gt=timezone.now() - timedelta(days=1)).delete()
    query = {**QUERY, "extra_chargers": 0, **change}
    response = client_as(world.alice).get(planning_url(world), query)
    assert response.status_code == 200
    assert any(words in message for message in field_errors(response, field)), field_errors(
        response, field
    )
    assert b'data-testid="planning-report"' not in response.content


def test_a_new_site_is_planned_and_exported(world: World, client_as: ClientAs) -> None:
    client = client_as(world.dora)
    assert client.get("/planning/new-site/").status_code == 200
    query = {
        "preset": "housing",
        "main_fuse_a": 80,
        "circuits": 2,
        "circuit_a": 40,
        "chargers_per_circuit": 5,
        "charger_max_current_a": 16,
        "charger_phases": 3,
        "failsafe_current_a": 6,
        "base_load_a": 20,
        "days": 7,
        "seed": 1,
    }
    response = client.get("/planning/new-site/", query)
    assert response.status_code == 200
    assert b'data-testid="planning-report"' in response.content
    assert b"Housing cooperative" in response.content
    bad = client.get("/planning/new-site/", {**query, "chargers_per_circuit": 0})
    assert "A site needs at least one charger." in field_errors(bad, "chargers_per_circuit")
    csv = client.get("/planning/new-site/", {**query, "export": "csv"})
    assert b"Hours at a fuse limit" in b"".join(csv.streaming_content)  # type: ignore[attr-defined]
