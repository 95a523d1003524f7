"""The fleet (``/fleet/`` and ``/api/v1/fleet/``): every installation a user serves with its
chargers online / offline / faulted / charging, open incidents and last contact, worst first;
filters, sorts and paging; the same number of queries for 1 site as for 30; tenancy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.models import ApiToken, User
from chargers.choices import ConnectorStatus
from chargers.models import Charger, Connector
from chargers.services import register_charger
from events import fleet
from events.choices import IncidentKind
from events.models import Incident
from installations.models import Installation
from installations.services import create_installation
from tests.conftest import World, api_as

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def set_state(
    charger: Charger, *, online: bool, seen: datetime | None = None, **plugs: str
) -> None:
    """The state the bridge keeps: ``is_online``, ``last_seen_at``, connector statuses."""
    Charger.objects.filter(pk=charger.pk).update(is_online=online, last_seen_at=seen)
    for connector_id, status in plugs.items():
        Connector.objects.filter(charger=charger, connector_id=int(connector_id[1:])).update(
            status=status
        )


def open_incident(site: Installation, minutes: int, *, acknowledged: bool = False) -> Incident:
    return Incident.objects.create(
        installation=site, kind=IncidentKind.OFFLINE, started_at=T0 + timedelta(minutes=minutes),
        summary="offline", acknowledged_at=T0 if acknowledged else None,
    )  # fmt: skip


@pytest.fixture
def fleet_world(world: World) -> World:
    """Site A: A1 online and charging, A2 online with plug 2 faulted, one open incident not
    acknowledged and one closed. Office west (ingrid's other site): its one charger offline,
    an acknowledged open incident. Depot north is oscar's only."""
    set_state(world.charger_a1, online=True, seen=T0, c1=ConnectorStatus.CHARGING)
    set_state(
        world.charger_a2, online=True, seen=T0 + timedelta(minutes=5),
        c1=ConnectorStatus.AVAILABLE, c2=ConnectorStatus.FAULTED,
    )  # fmt: skip
    open_incident(world.site_a, 10)
    closed = open_incident(world.site_a, 1)
    Incident.objects.filter(pk=closed.pk).update(ended_at=T0 + timedelta(minutes=3))
    office, _ = register_charger(circuit=world.site_c.main_fuse, name="W1", ocpp_identity="W-1")
    set_state(office, online=False, seen=T0 - timedelta(days=1))
    open_incident(world.site_c, 20, acknowledged=True)
    return world


def row_of(rows: list[Installation], site: Installation) -> Installation:
    (found,) = [row for row in rows if row.pk == site.pk]
    return found


class TestRows:
    def test_counts_incidents_and_last_contact(self, fleet_world: World) -> None:
        world = fleet_world
        rows = list(fleet.fleet(world.ingrid))
        harbour, office = row_of(rows, world.site_a), row_of(rows, world.site_c)
        assert (harbour.fleet_chargers, harbour.fleet_online, harbour.fleet_offline) == (2, 2, 0)
        assert (harbour.fleet_faulted, harbour.fleet_charging) == (1, 1)
        assert harbour.fleet_open_incidents == 1 and harbour.fleet_unacknowledged == 1
        assert harbour.fleet_oldest_incident_at == T0 + timedelta(minutes=10)
        assert harbour.fleet_last_contact == T0 + timedelta(minutes=5)
        assert (office.fleet_chargers, office.fleet_offline, office.fleet_faulted) == (1, 1, 0)
        assert office.fleet_open_incidents == 1 and office.fleet_unacknowledged == 0
        assert office.fleet_last_contact == T0 - timedelta(days=1)

    def test_worst_first_then_by_name_and_most_offline(self, fleet_world: World) -> None:
        world = fleet_world
        calm = create_installation(world.ingrid, name="Aardvark yard", main_fuse_a=40)
        names = lambda sort: [row.name for row in fleet.fleet(world.ingrid, sort=sort)]  # noqa: E731
        # A fault outranks an offline charger; a site with no problem comes last.
        assert names("worst") == ["Harbour car park", "Office west", calm.name]
        assert names("name") == [calm.name, "Harbour car park", "Office west"]
        assert names("offline") == ["Office west", "Harbour car park", calm.name]
        assert names("nonsense") == names("worst")

    def test_filters_problems_and_name(self, fleet_world: World) -> None:
        world = fleet_world
        create_installation(world.ingrid, name="Aardvark yard", main_fuse_a=40)
        problems = [row.name for row in fleet.fleet(world.ingrid, problems_only=True)]
        assert problems == ["Harbour car park", "Office west"]
        assert [row.name for row in fleet.fleet(world.ingrid, query="HARB")] == ["Harbour car park"]

    def test_only_installations_the_user_serves(self, fleet_world: World) -> None:
        world = fleet_world
        assert [row.name for row in fleet.fleet(world.alice)] == ["Harbour car park"]
        assert [row.name for row in fleet.fleet(world.oscar)] == ["Depot north"]
        assert list(fleet.fleet(world.dora)) == [] and list(fleet.fleet(world.dave)) == []


class TestPage:
    def test_the_page_lists_the_sites_with_links(
        self, fleet_world: World, client_as: Callable[[User], Client]
    ) -> None:
        world = fleet_world
        html = client_as(world.ingrid).get("/fleet/").content.decode()
        assert html.index("Harbour car park") < html.index("Office west")
        assert f'href="/installations/{world.site_a.pk}/"' in html
        assert f'href="/installations/{world.site_a.pk}/incidents/"' in html
        assert "1 faulted" in html and "all acknowledged" in html
        assert "<strong>1</strong> not acknowledged" in html
        assert "Depot north" not in html
        assert 'data-testid="nav-fleet"' in html

    def test_a_driver_gets_an_empty_fleet_and_no_link(
        self, fleet_world: World, client_as: Callable[[User], Client]
    ) -> None:
        answer = client_as(fleet_world.dora).get("/fleet/")
        assert answer.status_code == 200
        html = answer.content.decode()
        assert "No installations to look after" in html and "Harbour" not in html
        assert 'data-testid="nav-fleet"' not in html
        home = client_as(fleet_world.dora).get("/installations/").content.decode()
        assert 'data-testid="nav-fleet"' not in home

    def test_anonymous_visitors_log_in_first(self, fleet_world: World) -> None:
        answer = Client().get("/fleet/")
        assert answer.status_code == 302 and "/login" in answer["Location"]

    def test_filters_and_paging_keep_each_other(
        self, fleet_world: World, client_as: Callable[[User], Client]
    ) -> None:
        world = fleet_world
        for number in range(60):
            create_installation(world.ingrid, name=f"Yard {number:02}", main_fuse_a=40)
        client = client_as(world.ingrid)
        first = client.get("/fleet/?sort=name").content.decode()
        assert "Page 1 of 2" in first and "page=2&amp;sort=name" in first
        problems = client.get("/fleet/?problems=1&q=west").content.decode()
        assert "Office west" in problems and "Harbour" not in problems and "Yard" not in problems
        nothing = client.get("/fleet/?q=%00zzz&page=1").content.decode()
        assert "Nothing matches" in nothing
        assert client.get("/fleet/?page=99").status_code == 404

    def test_the_same_number_of_queries_for_1_and_30_sites(
        self, world: World, client_as: Callable[[User], Client], django_assert_max_num_queries
    ) -> None:  # type: ignore[no-untyped-def]
        owner = world.oscar  # one site so far
        client = client_as(owner)

        def count() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert client.get("/fleet/").status_code == 200
            return len(captured)

        one = count()
        for number in range(29):
            site = create_installation(owner, name=f"Site {number:02}", main_fuse_a=63)
            for plug in range(3):
                charger, _ = register_charger(
                    circuit=site.main_fuse, name=f"C{plug}", ocpp_identity=f"S{number}-{plug}"
                )
                set_state(charger, online=plug > 0, seen=T0, c1=ConnectorStatus.FAULTED)
            open_incident(site, number)
        assert count() == one
        with django_assert_max_num_queries(one):
            html = client.get("/fleet/").content.decode()
        assert html.count('data-testid="fleet-row"') == 30


class TestApi:
    def test_rows_filters_and_tenancy(self, fleet_world: World) -> None:
        world = fleet_world
        body = api_as(world.ingrid).get("/api/v1/fleet/").json()
        assert [row["name"] for row in body["results"]] == ["Harbour car park", "Office west"]
        harbour = body["results"][0]
        assert {key: harbour[key] for key in ("online", "offline", "faulted", "charging")} == {
            "online": 2, "offline": 0, "faulted": 1, "charging": 1,
        }  # fmt: skip
        assert harbour["open_incidents"] == 1 and harbour["unacknowledged_incidents"] == 1
        assert harbour["last_contact"].startswith("2026-12-01T09:05:00")
        named = api_as(world.ingrid).get("/api/v1/fleet/?sort=name&q=office&problems=true")
        assert [row["name"] for row in named.json()["results"]] == ["Office west"]
        assert api_as(world.dora).get("/api/v1/fleet/").json()["results"] == []
        assert [r["name"] for r in api_as(world.oscar).get("/api/v1/fleet/").json()["results"]] == [
            "Depot north"
        ]

    def test_a_read_only_token_limited_to_one_site_lists_that_site(
        self, fleet_world: World
    ) -> None:
        key = "fbx_readonly_ingrid_harbour"
        token = ApiToken.objects.create(
            user=fleet_world.ingrid, name="wallboard", prefix=key[:12], key_hash=hash_key(key),
            read_only=True,
        )  # fmt: skip
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        body = client.get("/api/v1/fleet/").json()
        assert [row["name"] for row in body["results"]] == ["Harbour car park", "Office west"]
        token.installations.set([fleet_world.site_c])
        body = client.get("/api/v1/fleet/").json()
        assert [row["name"] for row in body["results"]] == ["Office west"]

    def test_bad_input_is_a_400(self, fleet_world: World) -> None:
        client = api_as(fleet_world.alice)
        for query in ("sort=worstest", "problems=maybe", "q=%00"):
            answer = client.get(f"/api/v1/fleet/?{query}")
            assert answer.status_code == 400, query
            assert answer.json()["error"]["code"] == "invalid"
