"""Charge modes in a real Chromium: a driver on a 375 px phone sets a departure on the charger
page and sees the plan; an owner sets allowed hours and a charger's default mode; nothing
scrolls sideways at 375 px. Screenshots for a human: test-artifacts/modes-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from chargers.models import ChargeSession
from modes import services
from modes.choices import ChargeMode, PlanStatus
from modes.models import ChargingWindow, SessionPlan
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def test_a_driver_on_a_phone_sets_a_departure_and_sees_the_plan(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T1",
        user=world.dora, started_at=timezone.now() - timedelta(minutes=5), meter_start_wh=0,
    )  # fmt: skip
    zone = ZoneInfo(world.site_a.time_zone)
    leaving = (timezone.now() + timedelta(hours=7)).astimezone(zone)
    log_in(phone, "dora@example.com")
    phone.goto(f"/chargers/{world.charger_a1.pk}/")
    panel = phone.locator("[data-plan-panel]")
    expect(panel.get_by_role("heading", name="Charging plan")).to_be_visible()
    assert_fits(phone)
    panel.get_by_label("By departure").check()
    panel.get_by_label("Leaving at").fill(f"{leaving:%H:%M}")
    panel.get_by_label("Energy needed (kWh)").fill("0")
    panel.get_by_role("button", name="Save").click()
    # The service's rule, by its field.
    expect(phone.get_by_text("The energy need must be more than 0.")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "modes-01-driver-error")
    phone.locator("[data-plan-panel]").get_by_label("Energy needed (kWh)").fill("12.5")
    phone.locator("[data-plan-panel]").get_by_role("button", name="Save").click()
    expect(phone.get_by_text("Departure set: the plan follows within a minute.")).to_be_visible()
    plan = SessionPlan.objects.get(session=session)
    assert plan.energy_need_wh == 12_500 and plan.set_by == world.dora
    assert plan.departure_at.astimezone(zone).strftime("%H:%M") == f"{leaving:%H:%M}"

    # Balancing computes the plan (as modes.inputs writes it): two cheap night hours.
    first = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    slots = [
        {"start": (first + timedelta(hours=n)).isoformat(),
         "end": (first + timedelta(hours=n + 1)).isoformat(),
         "current_a": current, "price_per_kwh": 0.12}
        for n, current in enumerate([16.0, 2.2])
    ]  # fmt: skip
    SessionPlan.objects.filter(pk=plan.pk).update(
        status=PlanStatus.ON_TRACK, planned_at=timezone.now(), plan=slots, needed_wh=12_500,
        delivered_wh=getattr(plan, "baseline_energy_wh", 0),
    )  # fmt: skip
    # The panel follows without a reload (static/js/modes.js polls while the plan is pending).
    panel = phone.locator("[data-plan-panel]")
    expect(panel.get_by_text("On track", exact=True)).to_be_visible(timeout=15_000)
    expect(
        panel.get_by_role("list", name="Planned charging").get_by_role("listitem")
    ).to_have_count(2)
    expect(panel.get_by_text("16 A · 11040 Wh · 0.12 EUR/kWh")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "modes-02-driver-plan")

    # My charging shows it too, and fits.
    phone.goto("/my/charging/")
    expect(phone.get_by_role("heading", name="Charging now")).to_be_visible()
    expect(phone.locator('[data-charger="A1"]').get_by_text("On track")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "modes-03-my-charging")


def test_an_owner_sets_allowed_hours_and_a_chargers_mode(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/")
    phone.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Charging modes"
    ).click()
    expect(phone.get_by_role("heading", name="Default mode per charger")).to_be_visible()
    assert_fits(phone)

    hours = phone.get_by_test_id("hours-form")
    hours.get_by_label("Monday to Friday").fill("22:00-06:00, 05:00-07:00")
    hours.get_by_role("button", name="Save hours").click()
    expect(
        phone.get_by_text("The Monday to Friday windows 22:00-06:00 and 05:00-07:00 overlap.")
    ).to_be_visible()
    phone.get_by_test_id("hours-form").get_by_label("Monday to Friday").fill("22:00-06:00")
    phone.get_by_test_id("hours-form").get_by_label("Saturday, Sunday and holidays").fill(
        "00:00-23:59"
    )
    phone.get_by_test_id("hours-form").get_by_role("button", name="Save hours").click()
    expect(phone.get_by_text("Allowed hours of the installation saved.")).to_be_visible()
    week = phone.get_by_role("img", name="The installation's allowed hours", exact=False)
    expect(week).to_have_count(1)
    assert week.locator(".week-segment").count() == 5 + 4 + 1 + 2  # Mon-Fri, Tue-Fri, Sat x2, Sun
    assert ChargingWindow.objects.filter(charger=None).count() == 2

    modes = phone.get_by_test_id("modes-form")
    modes.get_by_label("A1").check()
    modes.get_by_label("Set the chosen chargers to").select_option(label="Scheduled hours")
    modes.get_by_role("button", name="Set mode").click()
    expect(phone.get_by_text("Scheduled hours is now the default on A1.")).to_be_visible()
    expect(
        phone.locator('[data-charger="A1"]').get_by_text("Scheduled hours", exact=True)
    ).to_be_visible()
    assert services.charger_mode(world.charger_a1) == ChargeMode.SCHEDULED
    assert_fits(phone)
    screenshot(phone, "modes-04-owner-tab")
