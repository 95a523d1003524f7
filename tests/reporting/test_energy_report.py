"""Energy over time of an installation: ``GET /api/v1/reports/energy/`` (UTC hours, local days,
one session), its CSV and Excel files, and the Usage tab's "Energy over time"; estimated rows
from sessions without readings; who may see what."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from chargers.models import ChargeSession, MeterValue
from tests.conftest import World, api_as
from tests.reporting.conftest import make_session

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
OSLO = ZoneInfo("Europe/Oslo")
URL = "/api/v1/reports/energy/"


def sampled(session: ChargeSession, every_minutes: int = 15) -> None:
    """Energy readings at an even power from start to stop."""
    seconds = (session.stopped_at - session.started_at).total_seconds()
    steps = int(seconds // (every_minutes * 60))
    MeterValue.objects.bulk_create(
        MeterValue(
            charger=session.charger,
            connector_id=1,
            transaction_id=session.pk,
            timestamp=session.started_at + timedelta(minutes=every_minutes * i),
            measurand="Energy.Active.Import.Register",
            value=session.meter_start_wh + session.energy_wh * i * every_minutes * 60 / seconds,
            unit="Wh",
        )
        for i in range(1, steps)
    )


@pytest.fixture
def night(world: World) -> dict[str, ChargeSession]:
    """2 March 2026 (Oslo, UTC+1): Dora 22:00-02:00 at 1 kWh/h with readings; Dave 10:00-12:00,
    3 kWh without readings; Oscar at his own site."""
    dora = make_session(
        world.charger_a1,
        datetime(2026, 3, 2, 22, tzinfo=OSLO),
        minutes=240,
        energy_wh=4000,
        user=world.dora,
    )
    sampled(dora)
    dave = make_session(
        world.charger_a2,
        datetime(2026, 3, 2, 10, tzinfo=OSLO),
        minutes=120,
        energy_wh=3000,
        user=world.dave,
    )
    oscar = make_session(
        world.charger_b1, datetime(2026, 3, 2, 10, tzinfo=OSLO), energy_wh=9000, user=world.oscar
    )
    return {"dora": dora, "dave": dave, "oscar": oscar}


def energy(client: object, **params: object) -> dict:
    response = client.get(URL, params)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.content
    return response.json()


class TestApi:
    def test_utc_hours_of_a_day_with_estimated_rows(self, world: World, night: dict) -> None:
        body = energy(
            api_as(world.alice),
            installation=world.site_a.pk,
            **{"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
        )
        rows = body["results"]
        assert len(rows) == 24 and body["time_zone"] == "UTC"
        by_hour = {r["start"][11:13]: r for r in rows}
        # Dave 09:00-11:00 UTC, no readings: spread evenly and estimated.
        assert by_hour["09"]["energy_wh"] == 1500 and by_hour["09"]["estimated"] is True
        assert by_hour["10"]["energy_wh"] == 1500 and by_hour["10"]["estimated_wh"] == 1500
        # Dora from 21:00 UTC: 1 kWh in each of the last three hours of the day, measured.
        assert [by_hour[h]["energy_wh"] for h in ("21", "22", "23")] == [1000, 1000, 1000]
        assert by_hour["21"]["estimated"] is False and by_hour["21"]["sessions"] == 1
        assert body["energy_wh"] == 6000 and body["estimated_wh"] == 3000

    def test_local_days_split_a_session_at_midnight(self, world: World, night: dict) -> None:
        body = energy(
            api_as(world.alice),
            installation=world.site_a.pk,
            interval="day",
            **{"from": "2026-03-02", "to": "2026-03-04"},
        )
        assert body["time_zone"] == "Europe/Oslo"
        assert [(r["start"], r["energy_wh"]) for r in body["results"]] == [
            ("2026-03-01T23:00:00.000000Z", 5000),  # Dave 3 kWh + Dora 2 kWh before midnight
            ("2026-03-02T23:00:00.000000Z", 2000),
        ]

    def test_one_session_by_default_over_its_own_span(self, world: World, night: dict) -> None:
        body = energy(api_as(world.dora), session=night["dora"].pk)
        assert [r["energy_wh"] for r in body["results"]] == [1000, 1000, 1000, 1000]
        assert api_as(world.oscar).get(URL, {"session": night["dora"].pk}).status_code == 404
        assert api_as(world.dave).get(URL, {"session": night["dora"].pk}).status_code == 404

    def test_a_driver_gets_only_their_own_energy(self, world: World, night: dict) -> None:
        body = energy(
            api_as(world.dave),
            installation=world.site_a.pk,
            **{"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
        )
        assert body["energy_wh"] == 3000

    def test_bad_input_and_other_tenants(self, world: World, night: dict) -> None:
        alice = api_as(world.alice)
        cases = [
            ({}, "installation"),
            ({"installation": world.site_a.pk, "interval": "week"}, "interval"),
            ({"installation": world.site_a.pk, "from": "yesterday"}, "from"),
            ({"installation": world.site_a.pk, "from": "2026-03-02", "to": "2026-03-01"}, "from"),
            ({"installation": world.site_a.pk, "from": "2026-01-01", "to": "2026-06-01"}, "to"),
            ({"installation": world.site_a.pk, "format": "pdf"}, "format"),
        ]
        for params, field in cases:
            response = alice.get(URL, params)
            assert response.status_code == 400, params
            assert field in response.json()["error"]["fields"], params
        assert api_as(world.oscar).get(URL, {"installation": world.site_a.pk}).status_code == 404

    def test_csv_and_excel_files(self, world: World, night: dict) -> None:
        params = {
            "installation": world.site_a.pk,
            "interval": "day",
            "from": "2026-03-02",
            "to": "2026-03-04",
        }
        response = api_as(world.alice).get(URL, {**params, "format": "csv"})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        rows = list(
            csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
        )
        assert rows[0] == ["Start", "End", "Energy (kWh)", "Estimated (kWh)", "Sessions"]
        assert rows[1][:3] == ["2026-03-02 00:00:00+01:00", "2026-03-03 00:00:00+01:00", "5.000"]
        assert rows[-1][2] == "7.000"
        response = api_as(world.alice).get(URL, {**params, "format": "xlsx"})
        sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        assert values[1][0] == datetime(2026, 3, 2) and values[1][2] == 5


class TestUsageTab:
    def test_one_day_per_hour_and_the_export(self, world: World, night: dict, client_as) -> None:
        client = client_as(world.alice)
        url = reverse("reporting:usage", args=[world.site_a.pk])
        html = client.get(url, {"first": "2026-03-02", "last": "2026-03-02"}).content.decode()
        assert 'data-testid="energy-time-chart"' in html
        assert "Energy delivered per hour" in html
        assert "Per hour on 2 Mar 2026, in Europe/Oslo" in html
        assert "data-energy-total>5.000<" in html  # Dave 3 + Dora 2 before midnight
        assert 'data-testid="energy-estimated"' in html
        export = reverse("reporting:energy_export", args=[world.site_a.pk, "csv"])
        response = client.get(export, {"first": "2026-03-02", "last": "2026-03-02"})
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        assert len(text.strip().splitlines()) == 1 + 24 + 1  # header, hours, totals

    def test_longer_periods_per_day_and_too_long_ones_explained(
        self, world: World, night: dict, client_as
    ) -> None:
        client = client_as(world.alice)
        url = reverse("reporting:usage", args=[world.site_a.pk])
        html = client.get(url, {"first": "2026-03-01", "last": "2026-03-07"}).content.decode()
        assert "Energy delivered per day" in html and "data-energy-total>7.000<" in html
        assert "Per day, 1 Mar to 7 Mar 2026" in html
        html = client.get(url, {"first": "2026-01-01", "last": "2026-06-30"}).content.decode()
        assert "at most 93 days" in html
        export = reverse("reporting:energy_export", args=[world.site_a.pk, "csv"])
        assert client.get(export, {"first": "2026-01-01", "last": "2026-06-30"}).status_code == 404
        other = reverse("reporting:energy_export", args=[world.site_a.pk, "csv"])
        assert client_as(world.oscar).get(other).status_code == 404


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(
        st.tuples(
            st.integers(-3 * 24 * 60, 3 * 24 * 60),  # start, minutes from the autumn change
            st.integers(0, 20 * 60),  # minutes long
            st.integers(0, 60_000),  # Wh
            st.integers(0, 12),  # register samples
            st.booleans(),  # a register reset in the middle
        ),
        max_size=8,
    ),
    interval=st.sampled_from(["hour", "day"]),
)
def test_the_rows_of_a_covering_range_add_up_to_the_sessions(
    world: World, batch: list[tuple[int, int, int, int, bool]], interval: str
) -> None:
    """Energy over time, through the database and the API: over a range that covers every
    session, the rows add up to the sessions' energy (whatever their samples), and the
    estimated part to the energy of those without samples."""
    autumn = datetime(2026, 10, 25, 1, tzinfo=UTC)  # Oslo's clocks go back at 01:00 UTC
    with transaction.atomic():
        made = []
        for n, (offset, minutes, wh, samples, reset) in enumerate(batch):
            session = make_session(
                world.charger_a1 if n % 2 else world.charger_a2,
                autumn + timedelta(minutes=offset),
                minutes=minutes,
                energy_wh=wh,
                id_tag=f"P{n}",
            )
            for i in range(1, samples + 1):
                level = session.meter_start_wh + wh * i / (samples + 1)
                if reset and i == samples // 2:
                    level = 0.0
                MeterValue.objects.create(
                    charger=session.charger, connector_id=1, transaction_id=session.pk,
                    timestamp=session.started_at + timedelta(minutes=minutes * i / (samples + 1)),
                    measurand="Energy.Active.Import.Register", value=level, unit="Wh",
                )  # fmt: skip
            made.append((session, samples))
        body = energy(
            api_as(world.alice),
            installation=world.site_a.pk,
            interval=interval,
            **{"from": "2026-10-21T00:00:00Z", "to": "2026-10-30T00:00:00Z"},
        )
        assert body["energy_wh"] == sum(s.energy_wh for s, _ in made)
        assert sum(r["energy_wh"] for r in body["results"]) == body["energy_wh"]
        unsampled = sum(s.energy_wh for s, samples in made if samples == 0)
        assert body["estimated_wh"] == unsampled
        transaction.set_rollback(True)
