"""The reporting API: the session list's new filters and cursor paging, usage summaries, exports
and the price history; bad input (400 naming the parameter) and other tenants (404)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.utils import timezone
from openpyxl import load_workbook

from auth_access.models import ChargeCard
from reporting.models import DailyUsage, PricePeriod
from tests.conftest import World, api_as
from tests.reporting.conftest import make_session, price_from

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


@pytest.fixture
def three(world: World) -> dict[str, object]:
    """Dora at A (two sessions), Dave at A, Oscar at B, in January 2026."""
    t = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    price_from(world.site_a, t - timedelta(days=30), "2.5000", "NOK")
    card = ChargeCard.objects.create(id_tag="DORA-1", user=world.dora, name="Blue")
    return {
        "d1": make_session(world.charger_a1, t, user=world.dora, card=card, energy_wh=4000),
        "d2": make_session(
            world.charger_a1, t + timedelta(days=1), user=world.dora, energy_wh=6000
        ),
        "v1": make_session(
            world.charger_a2, t + timedelta(days=2), user=world.dave, energy_wh=1000
        ),
        "o1": make_session(
            world.charger_b1, t + timedelta(days=1), user=world.oscar, energy_wh=9000
        ),
        "card": card,
    }


class TestSessionList:
    def test_new_filters_from_inclusive_to_exclusive(self, world: World, three: dict) -> None:
        client = api_as(world.alice)
        ids = lambda **p: {s["id"] for s in client.get("/api/v1/sessions/", p).json()["results"]}  # noqa: E731
        assert ids(**{"from": "2026-01-11T08:00:00Z"}) == {three["d2"].pk, three["v1"].pk}
        assert ids(**{"to": "2026-01-11T08:00:00Z"}) == {three["d1"].pk}
        assert ids(card=three["card"].pk) == {three["d1"].pk}
        assert ids(user=world.dave.pk) == {three["v1"].pk}
        assert ids(charger=world.charger_a1.pk, status="completed") == {
            three["d1"].pk,
            three["d2"].pk,
        }

    def test_another_tenants_objects_are_404(self, world: World, three: dict) -> None:
        client = api_as(world.alice)
        for params in [
            {"installation": world.site_b.pk},
            {"charger": world.charger_b1.pk},
            {"user": world.oscar.pk},
            {"charger": 999999},
        ]:
            response = client.get("/api/v1/sessions/", params)
            assert response.status_code == 404, params
            assert response.json()["error"]["code"] == "not_found"
        assert client.get("/api/v1/sessions/", {"from": "yesterday"}).status_code == 400

    def test_page_numbers_still_work_and_cursor_paging_walks_everything(self, world: World) -> None:
        start = timezone.now() - timedelta(days=5)
        made = [
            make_session(world.charger_a1, start + timedelta(minutes=(i // 2) * 5), id_tag=f"T{i}")
            for i in range(25)
        ]
        client = api_as(world.alice)
        page = client.get("/api/v1/sessions/", {"page_size": 10}).json()
        assert page["count"] == 25 and len(page["results"]) == 10
        seen, url = [], "/api/v1/sessions/?cursor=&page_size=10"
        while url:
            body = client.get(url).json()
            assert "count" not in body
            seen += [s["id"] for s in body["results"]]
            url = body["next"]
        expected = [s.pk for s in sorted(made, key=lambda s: (s.started_at, s.pk), reverse=True)]
        assert seen == expected


class TestUsage:
    def test_per_user_with_totals_and_cost(self, world: World, three: dict) -> None:
        response = api_as(world.alice).get(
            "/api/v1/reports/usage/",
            {
                "installation": world.site_a.pk,
                "group_by": "user",
                "from": "2026-01-01",
                "to": "2026-02-01",
            },
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        rows = {row["label"]: row["usage"] for row in body["results"]}
        assert rows["Dora Driver"]["sessions"] == 2 and rows["Dora Driver"]["energy_wh"] == 10_000
        assert rows["Dora Driver"]["cost"] == "25.00" and rows["Dora Driver"]["currency"] == "NOK"
        assert rows["Dave Driver"]["energy_wh"] == 1000
        assert body["totals"]["sessions"] == 3
        assert body["totals"]["cost"] == [{"currency": "NOK", "cost": "27.50"}]
        assert body["from"].startswith("2025-12-31T23:00:00")  # local midnight in Oslo

    def test_an_installations_report_adds_up_the_daily_rollup(
        self, world: World, three: dict
    ) -> None:
        """Like the pages, the API reads the rollup where the filters allow, so a year at a
        depot is not a scan of its sessions. Shown by marking the rollup (never done in life:
        database triggers keep it equal to the sessions): the report moves, a search (raw
        sessions) does not."""
        asked = {"installation": world.site_a.pk, "group_by": "user", "from": "2026-01-01",
                 "to": "2026-02-01"}  # fmt: skip
        client = api_as(world.alice)
        before = client.get("/api/v1/reports/usage/", asked).json()["totals"]["energy_wh"]
        assert before == 11_000
        DailyUsage.objects.filter(installation=world.site_a).update(energy_wh=F("energy_wh") + 1)
        marked = client.get("/api/v1/reports/usage/", asked).json()["totals"]["energy_wh"]
        assert marked == before + DailyUsage.objects.filter(installation=world.site_a).count()
        raw = client.get("/api/v1/reports/usage/", {**asked, "q": "DORA"}).json()["totals"]
        assert raw["energy_wh"] == 10_000

    def test_per_day_in_the_installations_time_zone(self, world: World, three: dict) -> None:
        body = (
            api_as(world.ingrid)
            .get(
                "/api/v1/reports/usage/",
                {
                    "installation": world.site_a.pk,
                    "group_by": "day",
                    "from": "2026-01-01",
                    "to": "2026-02-01",
                },
            )
            .json()
        )
        assert [(r["key"], r["usage"]["energy_wh"]) for r in body["results"]] == [
            ("2026-01-10", 4000), ("2026-01-11", 6000), ("2026-01-12", 1000),
        ]  # fmt: skip

    def test_an_installer_sees_each_installation_they_serve(
        self, world: World, three: dict
    ) -> None:
        make_session(
            world.site_c.chargers.first() or _charger_at(world.site_c),
            datetime(2026, 1, 15, tzinfo=UTC),
        )
        body = (
            api_as(world.ingrid)
            .get(
                "/api/v1/reports/usage/",
                {"group_by": "installation", "from": "2026-01-01", "to": "2026-02-01"},
            )
            .json()
        )
        assert {r["installation_name"] for r in body["results"]} == {
            "Harbour car park",
            "Office west",
        }

    def test_a_driver_gets_only_their_own(self, world: World, three: dict) -> None:
        body = (
            api_as(world.dave)
            .get(
                "/api/v1/reports/usage/",
                {"group_by": "charger", "from": "2026-01-01", "to": "2026-02-01"},
            )
            .json()
        )
        assert body["totals"]["sessions"] == 1 and body["totals"]["energy_wh"] == 1000

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"group_by": "hour"}, "group_by"),
            ({}, "group_by"),
            ({"group_by": "day", "from": "2026-02-01", "to": "2026-01-01"}, "from"),
            ({"group_by": "day", "from": "1st of May"}, "from"),
            ({"group_by": "day", "to": "2026-13-01"}, "to"),
            ({"group_by": "day", "from": "2020-01-01", "to": "2026-01-01"}, "to"),
            ({"group_by": "month", "from": "1990-01-01", "to": "2026-01-01"}, "to"),
            ({"group_by": "user", "installation": "x"}, "installation"),
        ],
    )
    def test_bad_input_is_400_naming_the_parameter(
        self, world: World, params: dict, field: str
    ) -> None:
        response = api_as(world.alice).get("/api/v1/reports/usage/", params)
        assert response.status_code == 400
        assert field in response.json()["error"]["fields"]

    def test_another_tenants_installation_charger_or_user_is_404(
        self, world: World, three: dict
    ) -> None:
        client = api_as(world.alice)
        for extra in [
            {"installation": world.site_b.pk},
            {"charger": world.charger_b1.pk},
            {"user": world.oscar.pk},
            {"card": 424242},
        ]:
            response = client.get("/api/v1/reports/usage/", {"group_by": "day", **extra})
            assert response.status_code == 404, extra
        # A driver names only themselves.
        assert (
            api_as(world.dave)
            .get("/api/v1/reports/usage/", {"group_by": "day", "user": world.dora.pk})
            .status_code
            == 404
        )
        assert (
            api_as(world.dave)
            .get("/api/v1/reports/usage/", {"group_by": "day", "user": world.dave.pk})
            .status_code
            == 200
        )


class TestExport:
    def test_sessions_as_xlsx_and_csv(self, world: World, three: dict) -> None:
        client = api_as(world.alice)
        params = {
            "kind": "sessions",
            "installation": world.site_a.pk,
            "from": "2026-01-01",
            "to": "2026-02-01",
        }
        response = client.get("/api/v1/reports/export/", {**params, "format": "xlsx"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Charging history"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][:3] == ("Start", "End", "Connected")
        assert len(rows) == 1 + 3 + 1  # header, sessions, totals
        assert rows[1][0] == datetime(2026, 1, 12, 9, 0)  # 08:00 UTC, shown in Oslo time
        response = client.get("/api/v1/reports/export/", {**params, "format": "csv"})
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        assert text.splitlines()[1].startswith("2026-01-12 09:00:00+01:00,")

    def test_usage_export_and_an_empty_export_is_a_file_with_its_header(self, world: World) -> None:
        client = api_as(world.oscar)
        response = client.get(
            "/api/v1/reports/export/", {"kind": "usage", "group_by": "charger", "format": "csv"}
        )
        lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
        assert lines[0].startswith("Installation,Charger,Sessions,Energy (kWh)")
        assert lines[1].startswith("Total: 0 sessions")

    def test_bad_kind_or_format_and_other_tenants(self, world: World) -> None:
        client = api_as(world.alice)
        response = client.get("/api/v1/reports/export/", {"kind": "sessions", "format": "pdf"})
        assert response.status_code == 400 and "format" in response.json()["error"]["fields"]
        response = client.get("/api/v1/reports/export/", {"kind": "everything", "format": "csv"})
        assert response.status_code == 400 and "kind" in response.json()["error"]["fields"]
        response = client.get(
            "/api/v1/reports/export/",
            {"kind": "sessions", "format": "csv", "installation": world.site_b.pk},
        )
        assert response.status_code == 404


class TestPrices:
    def test_owners_schedule_a_price_and_history_is_not_rewritten(self, world: World) -> None:
        client = api_as(world.alice)
        ended = make_session(world.charger_a1, timezone.now() - timedelta(hours=3), energy_wh=2000)
        price_from(world.site_a, timezone.now() - timedelta(days=1), "1.0000", "EUR")
        later = (timezone.now() + timedelta(days=2)).isoformat()
        response = client.post(
            "/api/v1/prices/",
            {
                "installation": world.site_a.pk,
                "price_per_kwh": "9.5",
                "currency": "eur",
                "effective_from": later,
            },
        )
        assert response.status_code == 201, response.json()
        assert response.json()["currency"] == "EUR"
        now_price = client.post(
            "/api/v1/prices/",
            {"installation": world.site_a.pk, "price_per_kwh": "3", "currency": "EUR"},
        )
        assert now_price.status_code == 201
        world.site_a.refresh_from_db()
        assert world.site_a.price_per_kwh == Decimal("3.0000")
        body = client.get(
            "/api/v1/reports/usage/", {"installation": world.site_a.pk, "group_by": "user"}
        ).json()
        assert body["totals"]["cost"] == [{"currency": "EUR", "cost": "2.00"}]  # still 1 EUR/kWh
        del ended

    def test_no_price_in_the_past_and_no_deleting_history(self, world: World) -> None:
        client = api_as(world.alice)
        past = (timezone.now() - timedelta(days=1)).isoformat()
        response = client.post(
            "/api/v1/prices/",
            {
                "installation": world.site_a.pk,
                "price_per_kwh": "1",
                "currency": "EUR",
                "effective_from": past,
            },
        )
        assert (
            response.status_code == 400 and "effective_from" in response.json()["error"]["fields"]
        )
        begun = PricePeriod.objects.filter(installation=world.site_a).first()
        assert client.delete(f"/api/v1/prices/{begun.pk}/").status_code == 400
        future = client.post(
            "/api/v1/prices/",
            {"installation": world.site_a.pk, "price_per_kwh": "1", "currency": "EUR",
             "effective_from": (timezone.now() + timedelta(days=1)).isoformat()},
        ).json()  # fmt: skip
        assert client.delete(f"/api/v1/prices/{future['id']}/").status_code == 204

    def test_drivers_read_prices_others_cannot_set_them(self, world: World) -> None:
        assert (
            api_as(world.dora)
            .get("/api/v1/prices/", {"installation": world.site_a.pk})
            .json()["count"]
            == 1
        )
        response = api_as(world.dora).post(
            "/api/v1/prices/",
            {"installation": world.site_a.pk, "price_per_kwh": "0", "currency": "EUR"},
        )
        assert (
            response.status_code == 400
        )  # not an installation she may administer: "does not exist"
        response = api_as(world.oscar).post(
            "/api/v1/prices/",
            {"installation": world.site_a.pk, "price_per_kwh": "0", "currency": "EUR"},
        )
        assert response.status_code == 400
        assert (
            api_as(world.oscar)
            .get("/api/v1/prices/", {"installation": world.site_a.pk})
            .json()["count"]
            == 0
        )


def _charger_at(installation: object) -> object:
    from chargers.services import register_charger

    charger, _ = register_charger(
        circuit=installation.main_fuse, name="C1", ocpp_identity="OFFICE-C1"
    )  # type: ignore[attr-defined]
    return charger


def test_the_new_endpoints_and_parameters_are_in_the_openapi_schema(world: World) -> None:
    schema = api_as(world.alice).get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in ["/api/v1/reports/usage/", "/api/v1/reports/export/", "/api/v1/prices/"]:
        assert path in paths
    names = lambda path: {p["name"] for p in paths[path]["get"]["parameters"]}  # noqa: E731
    assert {"installation", "group_by", "from", "to", "user", "card", "charger"} <= names(
        "/api/v1/reports/usage/"
    )
    assert {"kind", "format", "from", "to"} <= names("/api/v1/reports/export/")
    assert {
        "installation",
        "charger",
        "user",
        "card",
        "status",
        "from",
        "to",
        "cursor",
        "page",
    } <= (names("/api/v1/sessions/"))
