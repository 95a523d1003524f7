"""The session detail page and ``GET /api/v1/sessions/{id}/energy/``: facts, who started and
stopped it and how, hourly energy from the meter values, curves; who may see it (another
tenant, another driver: 404); a bounded number of queries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from auth_access.models import ChargeCard, RemoteStart
from chargers.choices import StopReason
from chargers.models import ChargeSession, MeterValue
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from tests.conftest import World, api_as
from tests.reporting.conftest import make_session

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Oslo


def register(session: ChargeSession, at: datetime, wh: float, **extra: object) -> MeterValue:
    values = {
        "charger": session.charger,
        "connector_id": session.connector.connector_id,
        "transaction_id": session.pk,
        "timestamp": at,
        "measurand": "Energy.Active.Import.Register",
        "value": wh,
        "unit": "Wh",
        "context": "Sample.Periodic",
    } | extra
    return MeterValue.objects.create(**values)


def charged(world: World, **kwargs: object) -> ChargeSession:
    """Dora's session on A1, 10:30-13:00 Oslo time, 10 kWh at an even 4 kW, sampled every 15
    minutes (one sample without a transactionId), with power samples."""
    card = ChargeCard.objects.create(id_tag="DORA-1", user=world.dora, name="Blue tag")
    session = make_session(
        world.charger_a1,
        START,
        minutes=150,
        energy_wh=10_000,
        user=world.dora,
        card=card,
        **kwargs,
    )
    session.stop_id_tag = "DORA-1"
    session.save(update_fields=["stop_id_tag"])
    for i in range(1, 10):
        at = START + timedelta(minutes=15 * i)
        tagged = {} if i != 5 else {"transaction_id": None}
        register(session, at, session.meter_start_wh + 1000 * i, **tagged)
        MeterValue.objects.create(
            charger=session.charger,
            connector_id=1,
            transaction_id=session.pk,
            timestamp=at,
            measurand="Power.Active.Import",
            value=4.0,
            unit="kW",
        )
    return session


def page(client: object, session: ChargeSession, mine: bool = False) -> object:
    if mine:
        url = reverse("reporting:my_session", args=[session.pk])
    else:
        url = reverse("reporting:session", args=[session.charger.installation_id, session.pk])
    return client.get(url)  # type: ignore[attr-defined]


def hours(response: object) -> dict[str, int]:
    html = response.content.decode()  # type: ignore[attr-defined]
    found = re.findall(
        r'data-hour="([^"]+)"><td[^>]*>[^<]*</td><td class="num" data-wh="(\d+)"', html
    )
    return {hour: int(wh) for hour, wh in found}


class TestPage:
    def test_the_owner_sees_facts_people_curves_and_hours(self, world: World, client_as) -> None:
        session = charged(world)
        response = page(client_as(world.alice), session)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-fact="energy">10.000' in html
        assert 'data-method="card">Card: <strong>Blue tag</strong>' in html
        assert 'data-method="card">Card at the charger: <strong>Blue tag</strong>' in html
        assert f"{session.meter_start_wh} Wh / {session.meter_start_wh + 10_000} Wh" in html
        assert 'class="line-chart"' in html and "<polyline" in html
        assert "estimated" not in html
        # Hours of Oslo: 10:30-11:00 is 2 kWh, then 4 and 4.
        assert hours(response) == {
            "2026-03-02T10:00:00+01:00": 2000,
            "2026-03-02T11:00:00+01:00": 4000,
            "2026-03-02T12:00:00+01:00": 4000,
        }

    def test_history_rows_link_to_the_page(self, world: World, client_as) -> None:
        session = charged(world)
        history = client_as(world.alice).get(reverse("reporting:history", args=[world.site_a.pk]))
        assert reverse("reporting:session", args=[world.site_a.pk, session.pk]) in (
            history.content.decode()
        )
        mine = client_as(world.dora).get(reverse("reporting:my_charging"))
        assert reverse("reporting:my_session", args=[session.pk]) in mine.content.decode()

    def test_who_may_see_it(self, world: World, client_as) -> None:
        session = charged(world)
        assert page(client_as(world.ingrid), session).status_code == 200
        assert page(client_as(world.dora), session, mine=True).status_code == 200
        assert page(client_as(world.dora), session).status_code == 200  # her own, at her site
        for outsider in (world.oscar, world.dave):
            assert page(client_as(outsider), session).status_code == 404
            assert page(client_as(outsider), session, mine=True).status_code == 404
        # The owner's My charging holds only her own sessions.
        assert page(client_as(world.alice), session, mine=True).status_code == 404
        # Another installation's URL with this session: 404.
        url = reverse("reporting:session", args=[world.site_c.pk, session.pk])
        assert client_as(world.ingrid).get(url).status_code == 404

    def test_a_driver_who_left_still_sees_it_from_my_charging(
        self, world: World, client_as
    ) -> None:
        session = charged(world)
        world.dora.memberships.all().delete()
        assert page(client_as(world.dora), session, mine=True).status_code == 200
        assert page(client_as(world.dora), session).status_code == 404

    def test_an_inferred_stop_is_shown_as_estimated_with_its_reason(
        self, world: World, client_as
    ) -> None:
        session = make_session(
            world.charger_a1, START, user=world.dora, stop_reason=StopReason.POWER_LOSS
        )
        ChargeSession.objects.filter(pk=session.pk).update(stop_inferred=True)
        html = page(client_as(world.alice), session).content.decode()
        assert 'data-method="inferred"' in html
        assert "Closed by Fusebox without a StopTransaction" in html
        assert "(Power loss)" in html

    def test_without_samples_the_energy_is_spread_evenly_and_marked(
        self, world: World, client_as
    ) -> None:
        session = make_session(world.charger_a1, START, minutes=120, energy_wh=3000)
        response = page(client_as(world.alice), session)
        assert 'data-testid="estimated"' in response.content.decode()
        assert sum(hours(response).values()) == 3000

    def test_started_from_the_app_and_stopped_remotely_by_the_owner(
        self, world: World, client_as
    ) -> None:
        session = make_session(world.charger_a1, START, user=world.dora, id_tag="V-DORA")
        command = Command.objects.create(
            charger=world.charger_a1,
            action=CommandAction.REMOTE_START_TRANSACTION,
            status=CommandStatus.ACCEPTED,
            source=CommandSource.API,
            requested_by=world.dora,
        )
        RemoteStart.objects.create(
            charger=world.charger_a1,
            connector_id=1,
            user=world.dora,
            id_tag="V-DORA",
            command=command,
            session=session,
            expires_at=START + timedelta(minutes=5),
        )
        stop = Command.objects.create(
            charger=world.charger_a1,
            action=CommandAction.REMOTE_STOP_TRANSACTION,
            payload={"transactionId": session.pk},
            status=CommandStatus.ACCEPTED,
            source=CommandSource.UI,
            requested_by=world.alice,
        )
        Command.objects.filter(pk=stop.pk).update(created_at=START + timedelta(minutes=59))
        html = page(client_as(world.alice), session).content.decode()
        assert 'data-method="app">App or portal: <strong>Dora Driver</strong>' in html
        assert 'data-method="remote">Remote stop: <strong>Alice Owner</strong>' in html
        # Dora learns it was stopped remotely, not who sent a command she may not see.
        ChargeSession.objects.filter(pk=session.pk).update(stop_reason=StopReason.REMOTE)
        mine = page(client_as(world.dora), session, mine=True).content.decode()
        assert 'data-method="app">App or portal: <strong>Dora Driver</strong>' in mine
        assert 'data-method="remote">Remote stop <span' in mine
        assert "Alice Owner" not in mine

    def test_a_remote_start_command_with_its_id_tag(self, world: World, client_as) -> None:
        session = make_session(world.charger_a1, START, id_tag="VISITOR")
        command = Command.objects.create(
            charger=world.charger_a1,
            action=CommandAction.REMOTE_START_TRANSACTION,
            payload={"connectorId": 1, "idTag": "VISITOR"},
            status=CommandStatus.ACCEPTED,
            source=CommandSource.UI,
            requested_by=world.ingrid,
        )
        Command.objects.filter(pk=command.pk).update(created_at=START - timedelta(minutes=2))
        html = page(client_as(world.alice), session).content.decode()
        assert 'data-method="remote">Remote command: <strong>Ingrid Installer</strong>' in html

    def test_queries_do_not_grow_with_the_samples(self, world: World, client_as) -> None:
        session = charged(world)
        client = client_as(world.alice)
        page(client, session)
        with CaptureQueriesContext(connection) as few:
            page(client, session)
        for i in range(200):
            register(
                session, START + timedelta(seconds=30 * i + 7), session.meter_start_wh + 30 * i
            )
        with CaptureQueriesContext(connection) as many:
            page(client, session)
        assert len(many) == len(few)


class TestApi:
    def test_hours_in_utc_and_curves(self, world: World) -> None:
        session = charged(world)
        body = api_as(world.alice).get(f"/api/v1/sessions/{session.pk}/energy/").json()
        assert body["estimated"] is False and body["power_measured"] is True
        assert [(h["start"], h["energy_wh"]) for h in body["hours"]] == [
            ("2026-03-02T09:00:00.000000Z", 2000),
            ("2026-03-02T10:00:00.000000Z", 4000),
            ("2026-03-02T11:00:00.000000Z", 4000),
        ]
        assert body["hours"][0]["end"] == "2026-03-02T10:00:00.000000Z"
        assert body["energy"][-1]["energy_wh"] == 10_000
        assert {p["power_w"] for p in body["power"]} == {4000.0}

    def test_tenancy_and_bad_input(self, world: World) -> None:
        session = charged(world)
        url = f"/api/v1/sessions/{session.pk}/energy/"
        assert api_as(world.dora).get(url).status_code == 200
        assert api_as(world.oscar).get(url).status_code == 404
        assert api_as(world.dave).get(url).status_code == 404
        response = api_as(world.alice).get(url, {"points": "1"})
        assert response.status_code == 400 and "points" in response.json()["error"]["fields"]
        assert (
            api_as(world.alice).get(url, {"points": "3"}).json()["energy"][-1]["energy_wh"]
            == 10_000
        )
        assert api_as(world.alice).get("/api/v1/sessions/999999/energy/").status_code == 404

    def test_a_running_session_counts_up_to_now(self, world: World) -> None:
        now = timezone.now().replace(microsecond=0)
        session = make_session(world.charger_a1, now - timedelta(hours=1), active=True, energy_wh=0)
        register(session, now - timedelta(minutes=30), session.meter_start_wh + 1500)
        ChargeSession.objects.filter(pk=session.pk).update(energy_wh=1500)
        body = api_as(world.alice).get(f"/api/v1/sessions/{session.pk}/energy/").json()
        assert sum(h["energy_wh"] for h in body["hours"]) == 1500
