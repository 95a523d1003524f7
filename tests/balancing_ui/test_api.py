"""The balancing API: an installation's load now, and the recorded decisions, tenant-scoped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.balancing_ui.conftest import give_limit, record_decision, set_live
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def load_path(installation_id: int) -> str:
    return f"/api/v1/installations/{installation_id}/load/"


def test_the_load_of_an_installation(world: World) -> None:
    set_live(world.charger_a1, (15.8, 15.9, 0.2), power_w=7300)
    give_limit(world.charger_a1, 16)
    record_decision(world.site_a, commands_sent=1, notes=["HARBOUR-A1 held near its draw"])
    response = api_as(world.ingrid).get(load_path(world.site_a.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["installation_id"] == world.site_a.pk and body["phase_count"] == 3
    main, row = body["fuses"]
    assert (main["name"], main["parent_id"], row["parent_id"]) == ("Main fuse", None, main["id"])
    assert [p["load_a"] for p in row["phases"]] == [15.8, 15.9, 0.2]
    assert row["phases"][0] == {
        "phase": "L1", "load_a": 15.8, "allowed_a": 16.0, "limit_a": 32.0, "percent": 49.4,
        "allowed_percent": 50.0, "headroom_a": 16.2, "level": "ok",
    }  # fmt: skip
    a1 = body["chargers"][0]
    assert (a1["name"], a1["state"], a1["state_label"], a1["allocated_a"]) == (
        "A1", "charging", "Charging", 16.0,
    )  # fmt: skip
    assert a1["draw"] == [
        {"phase": "L1", "current_a": 15.8},
        {"phase": "L2", "current_a": 15.9},
        {"phase": "L3", "current_a": 0.2},
    ]
    assert a1["power_kw"] == 7.3
    (decision,) = body["decisions"]
    assert decision["notes"] == [
        {"text": "A1 held near its draw", "kind": "held", "charger_id": world.charger_a1.pk}
    ]
    assert body["totals"]["charging"] == 1
    assert (
        api_as(world.alice).get(load_path(world.site_a.pk) + "?decisions=0").json()["decisions"]
        == []
    )


def test_the_load_is_tenant_scoped(world: World) -> None:
    assert api_as(world.oscar).get(load_path(world.site_a.pk)).status_code == 404
    assert api_as(world.alice).get(load_path(world.site_b.pk)).status_code == 404
    assert APIClient().get(load_path(world.site_a.pk)).status_code in (401, 403)
    body = api_as(world.dave).get(load_path(world.site_a.pk)).json()
    assert [c["name"] for c in body["chargers"]] == ["A1"]
    assert body["fuses"] == [] and body["decisions"] == []


def test_the_poller_may_use_the_session(world: World) -> None:
    client = APIClient()
    client.force_login(world.alice)
    assert client.get(load_path(world.site_a.pk)).status_code == 200


def test_decisions_are_listed_per_installation_newest_first(world: World) -> None:
    old = record_decision(world.site_a, at=timezone.now() - timedelta(hours=2), commands_sent=3)
    new = record_decision(world.site_a, notes=["HARBOUR-A2 paused: circuit-1 is full"])
    record_decision(world.site_b)
    client = api_as(world.alice)
    body = client.get("/api/v1/balancing-decisions/").json()
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["notes"] == ["HARBOUR-A2 paused: circuit-1 is full"]
    assert body["results"][0]["paused"] == [] and "scenario" not in body["results"][0]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    recent = client.get("/api/v1/balancing-decisions/", {"created_after": since}).json()
    assert [row["id"] for row in recent["results"]] == [new.pk]
    filtered = client.get("/api/v1/balancing-decisions/", {"installation": world.site_a.pk})
    assert filtered.json()["count"] == 2
    detail = client.get(f"/api/v1/balancing-decisions/{old.pk}/").json()
    assert detail["commands_sent"] == 3 and detail["result"]["allocations"] == []
    assert "now" in detail["scenario"]


def test_decisions_are_tenant_scoped(world: World) -> None:
    mine = record_decision(world.site_a)
    theirs = record_decision(world.site_b)
    oscar = api_as(world.oscar)
    assert [r["id"] for r in oscar.get("/api/v1/balancing-decisions/").json()["results"]] == [
        theirs.pk
    ]
    assert oscar.get(f"/api/v1/balancing-decisions/{mine.pk}/").status_code == 404
    assert (
        oscar.get("/api/v1/balancing-decisions/", {"installation": world.site_a.pk}).json()["count"]
        == 0
    )
    # Drivers see no decisions (the engine's snapshot holds every charger of the site).
    assert api_as(world.dora).get("/api/v1/balancing-decisions/").json()["count"] == 0


def test_the_load_endpoint_costs_a_bounded_number_of_queries(
    world: World, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = api_as(world.alice)
    client.get(load_path(world.site_a.pk))  # warm up (content types, token)
    with django_assert_max_num_queries(16):
        assert client.get(load_path(world.site_a.pk)).status_code == 200
