"""Reporting in a real Chromium: an owner filters the history and downloads the Excel file (the
test opens it with openpyxl), the usage tab's chart, and every reporting page on a 375 px phone.
Screenshots land in test-artifacts/ for a human to look at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from auth_access.models import ChargeCard
from tests.conftest import World
from tests.reporting.conftest import make_session, price_from
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Screenshot = Callable[[Page, str], Path]
OSLO = ZoneInfo("Europe/Oslo")
# Elements sticking out of a 375 px screen (outside the containers that scroll sideways).
WIDER_THAN_THE_SCREEN = """
[...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.tabs, .table-wrap') && e.getBoundingClientRect().right > 376)
  .slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
"""


def some_history(world: World) -> dict[str, object]:
    """A month of charging at the harbour (this month and last), and some at the depot."""
    now = timezone.now()
    price_from(world.site_a, now - timedelta(days=400), "2.5000", "NOK")
    card = ChargeCard.objects.create(id_tag="DORA-1", user=world.dora, name="Blue tag")
    made = {}
    for day in range(40):
        start = (now - timedelta(days=day)).replace(hour=7, minute=0, second=0, microsecond=0)
        if start > now:
            continue
        charger = world.charger_a1 if day % 3 else world.charger_a2
        user, with_card = (world.dora, card) if day % 2 else (world.dave, None)
        made[day] = make_session(
            charger, start, minutes=150, charging_minutes=100, energy_wh=7000 + 250 * day,
            user=user, card=with_card, id_tag=f"D{day}",
        )  # fmt: skip
    make_session(world.charger_b1, now - timedelta(hours=6), user=world.oscar, energy_wh=5000)
    return made


def test_an_owner_filters_the_history_and_downloads_it_as_excel(
    page: Page, world: World, screenshot: Screenshot, tmp_path: Path
) -> None:
    made = some_history(world)
    log_in(page, "alice@example.com")
    page.goto(f"/installations/{world.site_a.pk}/")
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="History"
    ).click()
    expect(page.get_by_role("heading", name="Charging history")).to_be_visible()
    expect(page.get_by_test_id("session-history").locator("tbody tr")).to_have_count(len(made))
    screenshot(page, "60-history")

    filters = page.get_by_test_id("report-filter")
    filters.get_by_label("Charger").select_option(label="A1")
    filters.get_by_label("Driver").select_option(label="Dora Driver")
    filters.get_by_label("Period").select_option("this_year")
    filters.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("session-history").locator("tbody tr")
    expected = [
        s for s in world.charger_a1.sessions.filter(user=world.dora)
        if s.started_at.astimezone(OSLO).year == timezone.now().astimezone(OSLO).year
    ]  # fmt: skip
    expect(rows).to_have_count(len(expected))
    expect(page.get_by_test_id("report-totals").locator("[data-total=sessions]")).to_have_text(
        str(len(expected))
    )
    screenshot(page, "61-history-filtered")

    with page.expect_download() as info:
        page.get_by_role("link", name="Excel").click()
    path = tmp_path / "history.xlsx"
    info.value.save_as(path)
    book = load_workbook(path)
    sheet = book["Charging history"]
    data = list(sheet.iter_rows(min_row=2, values_only=True))
    sessions, total = data[:-1], data[-1]
    assert len(sessions) == len(expected)
    newest = max(expected, key=lambda s: s.started_at)
    first = sessions[0]
    assert first[0] == newest.started_at.astimezone(OSLO).replace(tzinfo=None)  # a real date-time
    assert isinstance(first[0], datetime)
    assert first[2] == timedelta(minutes=150) and first[3] == timedelta(minutes=100)
    assert first[5] == pytest.approx(newest.energy_wh / 1000)  # a number, not text
    assert (
        Decimal(str(first[6]))
        == (Decimal(newest.energy_wh) / 1000 * Decimal("2.5")).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
        and first[7] == "NOK"
    )
    assert first[9] == "Dora Driver" and first[10] == "Blue tag" and first[11] == "A1"
    assert sheet["F2"].number_format == "#,##0.000" and sheet.freeze_panes == "A2"
    assert total[5] == pytest.approx(sum(s.energy_wh for s in expected) / 1000)
    info_rows = {r[0]: r[1] for r in book["Filters"].iter_rows(values_only=True)}
    assert info_rows["Charger"] == "A1" and info_rows["Driver"] == "Dora Driver"
    assert info_rows["Period"] == "This year" and info_rows["Time zone"] == "Europe/Oslo"

    # The usage tab: per driver, with the chart.
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Usage"
    ).click()
    page.get_by_test_id("report-filter").get_by_label("Sum per").select_option("user")
    page.get_by_test_id("report-filter").get_by_label("Period").select_option("this_month")
    page.get_by_test_id("report-filter").get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("energy-chart").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("usage-summary")).to_contain_text("Dora Driver")
    screenshot(page, "62-usage")


def test_reporting_pages_fit_a_phone(phone: Page, world: World, screenshot: Screenshot) -> None:
    some_history(world)
    log_in(phone, "alice@example.com")
    site = world.site_a.pk
    for name, url in {
        "63-mobile-history": f"/installations/{site}/history/",
        "64-mobile-usage": f"/installations/{site}/usage/?group_by=day&period=this_month",
        "65-mobile-usage-across": "/usage/",
        "66-mobile-charger-history": f"/chargers/{world.charger_a1.pk}/",
    }.items():
        phone.goto(url)
        wide = phone.evaluate(WIDER_THAN_THE_SCREEN)
        assert not wide, (url, wide)
        assert_fits(phone)
        screenshot(phone, name)


def test_a_driver_sees_their_charging_at_two_installations_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    made = some_history(world)
    # The newest of all (some_history's sessions are at fixed local times of today and before,
    # so "three hours ago" was older than some of them early in the UTC day).
    newest = max(s.started_at for s in made.values())
    make_session(world.charger_b1, newest + timedelta(minutes=1), user=world.dave, energy_wh=2222)
    daves = [s for s in made.values() if s.user_id == world.dave.pk]
    log_in(phone, "dave@example.com")
    phone.goto("/my/charging/")
    rows = phone.get_by_test_id("session-history").locator("tbody tr")
    expect(rows).to_have_count(len(daves) + 1)  # at the harbour, and one at the depot
    expect(rows.first).to_contain_text("Depot north")
    expect(phone.get_by_test_id("session-history")).not_to_contain_text("Dora")
    assert_fits(phone)
    screenshot(phone, "67-mobile-my-charging")


def test_a_driver_opens_a_session_in_full_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    """From My charging to the session page at 375 px: facts, curves, hours, signed values; it
    fits the screen and prints without the navigation."""
    from chargers.models import MeterValue
    from chargers.models.session import SignedMeterValue

    card = ChargeCard.objects.create(id_tag="DORA-1", user=world.dora, name="Blue tag")
    start = (timezone.now() - timedelta(days=1)).replace(minute=40, second=0, microsecond=0)
    session = make_session(
        world.charger_a1, start, minutes=200, energy_wh=18_000, user=world.dora, card=card
    )
    for i in range(1, 40):
        at = start + timedelta(minutes=5 * i)
        for measurand, value, unit in (
            ("Energy.Active.Import.Register", session.meter_start_wh + 18_000 * i / 40, "Wh"),
            ("Power.Active.Import", 7.4 if i < 30 else 2.1, "kW"),
        ):
            MeterValue.objects.create(
                charger=world.charger_a1, connector_id=1, transaction_id=session.pk,
                timestamp=at, measurand=measurand, value=value, unit=unit,
            )  # fmt: skip
    SignedMeterValue.objects.create(
        charger=world.charger_a1, session=session, connector_id=1, transaction_id=session.pk,
        timestamp=start, context="Transaction.Begin", digest="b" * 64,
        signed_data='OCMF|{"FV":"1.0","GI":"TEST","RD":[{"TX":"B","RV":1.0}]}|{"SD":"30450221' + "ab" * 60 + '"}',
    )  # fmt: skip
    log_in(phone, "dora@example.com")
    phone.goto("/my/charging/")
    phone.locator("[data-session-link]").first.click()
    expect(phone.get_by_test_id("session-facts")).to_contain_text("18.000")
    expect(phone.get_by_test_id("power-chart").locator("polyline")).to_be_visible()
    expect(phone.get_by_test_id("energy-curve").locator("polygon")).to_be_visible()
    expect(phone.get_by_test_id("session-hours").locator("tbody tr")).to_have_count(4)
    expect(phone.get_by_test_id("session-signed")).to_contain_text("Transaction.Begin")
    expect(phone.get_by_test_id("signed-txt")).to_be_visible()
    wide = phone.evaluate(WIDER_THAN_THE_SCREEN)
    assert not wide, wide
    assert_fits(phone)
    screenshot(phone, "68-mobile-session")
    phone.emulate_media(media="print")
    expect(phone.locator(".session-back")).to_be_hidden()
    expect(phone.get_by_test_id("energy-curve").locator("svg")).to_be_visible()
    screenshot(phone, "69-session-print")
