"""Incidents in the API and on the pages: who sees them (owners and installers of the site;
never another owner, a driver, or an installer of another site), acknowledge, bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import User
from events.choices import IncidentKind
from events.models import Incident, IncidentCharger
from installations.choices import Role
from installations.models import Membership
from tests.conftest import PASSWORD, World, api_as

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def incident(world: World) -> Incident:
    made = Incident.objects.create(
        installation=world.site_a, kind=IncidentKind.OFFLINE, started_at=T0, summary="A1 offline"
    )
    IncidentCharger.objects.create(incident=made, charger=world.charger_a1, started_at=T0)
    return made


@pytest.fixture
def other_site_installer(world: World) -> User:
    user = User.objects.create_user(email="ivan@example.com", password=PASSWORD, name="Ivan")
    Membership.objects.create(user=user, installation=world.site_c, role=Role.INSTALLER)
    return user


class TestApi:
    def test_owners_and_installers_list_their_incidents_with_chargers(
        self, world: World, incident: Incident
    ) -> None:
        for user in (world.alice, world.ingrid):
            body = api_as(user).get("/api/v1/incidents/").json()
            (listed,) = body["results"]
            assert listed["summary"] == "A1 offline" and listed["ended_at"] is None
            assert listed["chargers"][0]["charger_name"] == "A1"
            assert listed["duration_s"] is None

    def test_others_see_nothing_and_get_404(
        self, world: World, incident: Incident, other_site_installer: User
    ) -> None:
        for user in (world.oscar, world.dora, world.dave, other_site_installer):
            client = api_as(user)
            assert client.get("/api/v1/incidents/").json()["results"] == [], user
            assert client.get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
            answer = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {}, format="json")
            assert answer.status_code == 404
        incident.refresh_from_db()
        assert incident.acknowledged_at is None

    def test_filters(self, world: World, incident: Incident) -> None:
        client = api_as(world.alice)
        assert len(client.get("/api/v1/incidents/?open=true").json()["results"]) == 1
        assert client.get("/api/v1/incidents/?open=false").json()["results"] == []
        assert (
            client.get(f"/api/v1/incidents/?charger={world.charger_a2.pk}").json()["results"] == []
        )
        assert client.get("/api/v1/incidents/?kind=bogus").status_code == 400

    def test_acknowledge_with_a_note(self, world: World, incident: Incident) -> None:
        answer = api_as(world.ingrid).post(
            f"/api/v1/incidents/{incident.pk}/acknowledge/",
            {"note": "  Router rebooted, watching.  "},
            format="json",
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["acknowledged_by"] == world.ingrid.pk
        assert body["acknowledged_by_name"] == "Ingrid Installer"
        assert body["note"] == "Router rebooted, watching."
        first_at = body["acknowledged_at"]
        again = api_as(world.alice).post(
            f"/api/v1/incidents/{incident.pk}/acknowledge/", {}, format="json"
        )
        assert again.json()["acknowledged_at"] == first_at  # the first acknowledgement stays
        assert again.json()["note"] == "Router rebooted, watching."

    @pytest.mark.parametrize(
        "note", ["x" * 2001, ["a list"], {"an": "object"}, "nul \x00 byte"], ids=str
    )
    def test_bad_notes_are_400_with_the_field(
        self, world: World, incident: Incident, note: object
    ) -> None:
        answer = api_as(world.alice).post(
            f"/api/v1/incidents/{incident.pk}/acknowledge/", {"note": note}, format="json"
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid"
        assert "note" in answer.json()["error"]["fields"]
        incident.refresh_from_db()
        assert incident.acknowledged_at is None

    def test_read_only(self, world: World, incident: Incident) -> None:
        client = api_as(world.alice)
        assert client.delete(f"/api/v1/incidents/{incident.pk}/").status_code == 405
        assert client.post("/api/v1/incidents/", {}, format="json").status_code == 405


class TestPages:
    def test_the_installation_tab_lists_incidents_for_owners(
        self, world: World, incident: Incident, client_as: Callable[[User], Client]
    ) -> None:
        page = client_as(world.alice).get(f"/installations/{world.site_a.pk}/incidents/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "A1 offline" in html and "data-ongoing" in html
        assert f'href="/installations/{world.site_a.pk}/incidents/"' in html  # the tab
        closed = client_as(world.alice).get(
            f"/installations/{world.site_a.pk}/incidents/?state=open&kind=fault"
        )
        assert "A1 offline" not in closed.content.decode()

    def test_an_overload_is_listed_with_its_fuse_on_the_tab_and_in_the_api(
        self, world: World, client_as: Callable[[User], Client]
    ) -> None:
        Incident.objects.create(
            installation=world.site_a,
            kind=IncidentKind.OVERLOAD,
            circuit=world.row_a,
            started_at=T0,
            summary="Row A overloaded: L1 40 A (limit 32 A)",
        )
        page = client_as(world.alice).get(
            f"/installations/{world.site_a.pk}/incidents/?kind=overload"
        )
        html = page.content.decode()
        assert "Row A overloaded: L1 40 A (limit 32 A)" in html
        assert f'data-circuit="{world.row_a.pk}"' in html and "Fuse Row A" in html
        (listed,) = api_as(world.ingrid).get("/api/v1/incidents/?kind=overload").json()["results"]
        assert (listed["circuit"], listed["chargers"]) == (world.row_a.pk, [])

    def test_others_get_404_and_drivers_no_tab(
        self,
        world: World,
        incident: Incident,
        other_site_installer: User,
        client_as: Callable[[User], Client],
    ) -> None:
        for user in (world.oscar, world.dora, other_site_installer):
            page = client_as(user).get(f"/installations/{world.site_a.pk}/incidents/")
            assert page.status_code == 404, user
            posted = client_as(user).post(f"/incidents/{incident.pk}/acknowledge/", {"note": "x"})
            assert posted.status_code == 404
        overview = client_as(world.dora).get(f"/installations/{world.site_a.pk}/").content
        assert b"/incidents/" not in overview
        charger_page = client_as(world.dora).get(f"/chargers/{world.charger_a1.pk}/")
        assert charger_page.status_code == 200 and b'id="incidents"' not in charger_page.content

    def test_the_charger_page_shows_its_incidents_and_acknowledges_one(
        self, world: World, incident: Incident, client_as: Callable[[User], Client]
    ) -> None:
        client = client_as(world.alice)
        page = client.get(f"/chargers/{world.charger_a1.pk}/")
        assert b'id="incidents"' in page.content and b"A1 offline" in page.content
        back = f"/chargers/{world.charger_a1.pk}/"
        answer = client.post(
            f"/incidents/{incident.pk}/acknowledge/", {"note": "On my way", "next": back}
        )
        assert answer.status_code == 302 and answer["Location"] == back
        incident.refresh_from_db()
        assert (incident.acknowledged_by, incident.note) == (world.alice, "On my way")
        other = client.get(f"/chargers/{world.charger_a2.pk}/")
        assert b'id="incidents"' in other.content and b"data-incident=" not in other.content

    def test_an_acknowledgement_whose_author_is_gone_still_shows(
        self, world: World, incident: Incident, client_as: Callable[[User], Client]
    ) -> None:
        """Acknowledged by someone whose account was deleted since: "Someone", not a 500."""
        Incident.objects.filter(pk=incident.pk).update(
            acknowledged_at=incident.started_at, acknowledged_by=None
        )
        page = client_as(world.alice).get(f"/installations/{world.site_a.pk}/incidents/")
        assert page.status_code == 200 and b"Someone" in page.content

    def test_a_bad_note_is_a_message_not_an_error(
        self, world: World, incident: Incident, client_as: Callable[[User], Client]
    ) -> None:
        client = client_as(world.alice)
        answer = client.post(
            f"/incidents/{incident.pk}/acknowledge/",
            {"note": "x" * 2001, "next": "https://evil.example.com/"},
            follow=True,
        )
        assert answer.status_code == 200
        assert answer.redirect_chain[-1][0] == f"/installations/{world.site_a.pk}/incidents/"
        assert "Not acknowledged" in answer.content.decode()
        incident.refresh_from_db()
        assert incident.acknowledged_at is None


def test_the_openapi_schema_describes_incidents_and_acknowledge(world: World) -> None:
    schema = api_as(world.alice).get("/api/v1/schema/?format=json").json()
    assert "/api/v1/incidents/" in schema["paths"]
    acknowledge = schema["paths"]["/api/v1/incidents/{id}/acknowledge/"]["post"]
    assert "AcknowledgeRequest" in str(acknowledge["requestBody"])
