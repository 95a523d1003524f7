"""Exports: typed Excel workbooks (formats, frozen header, autofilter, widths, totals, a filters
sheet), CSV, the same filters as the page, and no formula injection in either."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import User
from auth_access.models import ChargeCard
from installations.models import Membership
from reporting.exports import Column, Kind, Table, neutralise, write_csv, write_xlsx
from tests.conftest import World
from tests.reporting.conftest import make_session, price_from

UTC = ZoneInfo("UTC")
EVIL = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_text_that_would_start_a_formula_is_neutralised() -> None:
    for text in EVIL:
        assert neutralise(text) == "'" + text
    assert neutralise("Dora") == "Dora" and neutralise("") == ""


def _table(rows: list[list[object]]) -> Table:
    return Table(
        title="Test",
        columns=[
            Column("Name"),
            Column("When", Kind.DATETIME),
            Column("kWh", Kind.KWH),
            Column("Cost", Kind.MONEY),
        ],
        rows=rows,
        totals=lambda: ["Total", None, Decimal("3.5"), Decimal("7.25")],
        filters={"Charger": "A1"},
        exported_at=datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Europe/Oslo")),
        time_zone="Europe/Oslo",
    )


def test_csv_prefixes_formula_text_and_writes_typed_values() -> None:
    when = datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    rows = [[text, when, Decimal("1.5"), Decimal("2.00")] for text in EVIL]
    lines = list(csv.reader(io.StringIO("".join(write_csv(_table(rows))).lstrip("\ufeff"))))
    assert lines[0] == ["Name", "When", "kWh", "Cost"]
    assert [line[0] for line in lines[1:-1]] == ["'" + text for text in EVIL]
    assert lines[1][1:] == ["2026-03-29 03:00:00+02:00", "1.500", "2.00"]
    assert lines[-1] == ["Total", "", "3.500", "7.25"]


def test_xlsx_is_typed_text_stays_text_and_the_sheet_is_set_up() -> None:
    when = datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    out = io.BytesIO()
    write_xlsx(_table([[text, when, Decimal("1.5"), Decimal("2")] for text in EVIL]), out)
    book = load_workbook(io.BytesIO(out.getvalue()))
    sheet = book["Test"]
    for row, text in enumerate(EVIL, start=2):
        cell = sheet.cell(row=row, column=1)
        # A string, never a formula (lxml writes a carriage return as &#13;: it reads back).
        assert cell.value == text and cell.data_type == "s"
    assert (
        sheet["B2"].value == datetime(2026, 3, 29, 3, 0)
        and sheet["B2"].number_format == "yyyy-mm-dd hh:mm:ss"
    )
    assert sheet["C2"].value == 1.5 and sheet["C2"].number_format == "#,##0.000"
    assert sheet["D2"].number_format == "#,##0.00"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:D{len(EVIL) + 1}"
    assert sheet.column_dimensions["A"].width == 14
    total = [c.value for c in sheet[len(EVIL) + 2]]
    assert total == ["Total", None, 3.5, 7.25] and sheet.cell(row=len(EVIL) + 2, column=1).font.b
    info = {row[0]: row[1] for row in book["Filters"].iter_rows(values_only=True)}
    assert info["Charger"] == "A1" and info["Time zone"] == "Europe/Oslo"
    assert info["Exported at"] == datetime(2026, 3, 1, 12, 0) and info["Rows"] == len(EVIL)


@pytest.mark.django_db
class TestPageExports:
    def _evil_world(self, world: World) -> None:
        mallory = User.objects.create_user(
            email="mallory@example.com", password="x", name="=cmd|' /C calc'!A0"
        )
        Membership.objects.create(user=mallory, installation=world.site_a, role="driver")
        card = ChargeCard.objects.create(id_tag="MAL-1", user=mallory, name="@SUM(1+1)*cmd")
        price_from(world.site_a, datetime(2025, 1, 1, tzinfo=UTC), "2.5000", "NOK")
        make_session(world.charger_a1, datetime(2026, 2, 1, 7, 0, tzinfo=UTC), minutes=90, charging_minutes=60,
                     energy_wh=12_345, user=mallory, card=card)  # fmt: skip
        make_session(
            world.charger_a2,
            datetime(2026, 2, 2, 7, 0, tzinfo=UTC),
            energy_wh=1000,
            user=world.dora,
        )

    def test_history_xlsx_from_the_page_with_its_filters(self, world: World, client_as) -> None:
        self._evil_world(world)
        url = reverse("reporting:history_export", args=[world.site_a.pk, "xlsx"])
        response = client_as(world.alice).get(
            url, {"charger": world.charger_a1.pk, "first": "2026-02-01", "last": "2026-02-28"}
        )
        assert response.status_code == 200
        assert 'attachment; filename="harbour-car-park-history-' in response["Content-Disposition"]
        book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        rows = list(book["Charging history"].iter_rows(values_only=True))
        assert len(rows) == 3  # header, one session (charger A1 only), totals
        start, end, connected, charging, idle, kwh, cost, currency, price, driver, card = rows[1][
            :11
        ]
        assert start == datetime(2026, 2, 1, 8, 0) and end == datetime(2026, 2, 1, 9, 30)
        assert (
            connected == timedelta(minutes=90)
            and charging == timedelta(minutes=60)
            and idle == timedelta(minutes=30)
        )
        assert kwh == pytest.approx(12.345) and cost == pytest.approx(30.86) and currency == "NOK"
        assert price == 2.5
        assert driver == "=cmd|' /C calc'!A0" and card == "@SUM(1+1)*cmd"
        sheet = book["Charging history"]
        assert sheet["J2"].data_type == "s" and sheet["K2"].data_type == "s"
        info = {r[0]: r[1] for r in book["Filters"].iter_rows(values_only=True)}
        assert info["Charger"] == "A1" and info["From"] == "2026-02-01"

    def test_history_csv_neutralises_names(self, world: World, client_as) -> None:
        self._evil_world(world)
        url = reverse("reporting:history_export", args=[world.site_a.pk, "csv"])
        text = b"".join(client_as(world.alice).get(url).streaming_content).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        evil = next(row for row in rows if "MAL" in ",".join(row) or "cmd" in ",".join(row))
        assert "'=cmd|' /C calc'!A0" in evil and "'@SUM(1+1)*cmd" in evil
        assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)

    def test_history_export_keeps_the_page_order(self, world: World, client_as) -> None:
        """The History tab's export links carry its sort, and the file lists in that order."""
        now = datetime.now(ZoneInfo("UTC"))
        small = make_session(world.charger_a1, now - timedelta(hours=1), energy_wh=1000)
        big = make_session(world.charger_a1, now - timedelta(hours=3), energy_wh=9000)
        middle = make_session(world.charger_a1, now - timedelta(hours=5), energy_wh=4000)
        client = client_as(world.alice)
        page = client.get(reverse("reporting:history", args=[world.site_a.pk]), {"sort": "energy"})
        export_url = reverse("reporting:history_export", args=[world.site_a.pk, "csv"])
        assert f"{export_url}?sort=energy" in page.content.decode()

        def listed(**params: str) -> list[int]:
            response = client.get(export_url, params)
            text = b"".join(response.streaming_content).decode("utf-8-sig")
            ids = {str(s.pk): s.pk for s in (small, big, middle)}
            return [ids[row[-1]] for row in csv.reader(io.StringIO(text)) if row and row[-1] in ids]

        assert listed(sort="energy") == [big.pk, middle.pk, small.pk]
        assert listed(sort="oldest") == [middle.pk, big.pk, small.pk]
        assert listed() == [small.pk, big.pk, middle.pk]
        my_url = reverse("reporting:my_export", args=["csv"])
        assert client.get(my_url, {"sort": "sideways"}).status_code == 200

    def test_usage_exports_and_tenancy(self, world: World, client_as) -> None:
        self._evil_world(world)
        url = reverse("reporting:usage_export", args=[world.site_a.pk, "xlsx"])
        book = load_workbook(
            io.BytesIO(
                b"".join(client_as(world.alice).get(url, {"group_by": "user"}).streaming_content)
            )
        )
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        assert rows[0][:3] == ("Installation", "Driver", "Sessions")
        assert sorted(r[1] for r in rows[1:-1]) == ["=cmd|' /C calc'!A0", "Dora Driver"]
        assert rows[-1][2] == 2
        # A driver's export holds their own sessions only.
        url = reverse("reporting:history_export", args=[world.site_a.pk, "csv"])
        text = b"".join(client_as(world.dora).get(url).streaming_content).decode("utf-8-sig")
        assert len(text.strip().splitlines()) == 3 and "cmd" not in text
        assert client_as(world.oscar).get(url).status_code == 404
        assert (
            client_as(world.alice)
            .get(reverse("reporting:history_export", args=[world.site_a.pk, "pdf"]))
            .status_code
            == 404
        )

    def test_my_charging_export(self, world: World, client_as) -> None:
        self._evil_world(world)
        make_session(world.charger_b1, datetime(2026, 2, 3, 7, 0, tzinfo=UTC), user=world.dora)
        text = b"".join(
            client_as(world.dora)
            .get(reverse("reporting:my_export", args=["csv"]))
            .streaming_content
        )
        lines = text.decode("utf-8-sig").strip().splitlines()
        assert len(lines) == 1 + 2 + 1
        assert "Depot north" in lines[1] and "Harbour car park" in lines[2]


def test_xlsx_drops_characters_no_xml_can_hold() -> None:
    """A control character in a name (no XML file may contain it) is dropped, not a failed
    export."""
    out = io.BytesIO()
    write_xlsx(_table([["Bad\x01name", None, Decimal("1"), Decimal("2")]]), out)
    sheet = load_workbook(io.BytesIO(out.getvalue()))["Test"]
    assert sheet["A2"].value == "Badname" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value is None and sheet["C2"].value == 1
