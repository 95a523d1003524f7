"""Prices in a real Chromium: an owner reaches the Prices tab, is told where a band is wrong,
saves a tariff with two bands and sees them on the 24-hour bar (desktop and a 375 px phone,
nothing scrolling sideways); a driver on a phone sees a session's cost per price slot.
Screenshots for a human: test-artifacts/tariffs-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tariffs.models import Tariff
from tests.conftest import World
from tests.tariffs.conftest import priced_session
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


@pytest.mark.parametrize("size", ["page", "phone"])
def test_an_owner_saves_a_tariff_with_two_bands_and_sees_the_bar(
    request: pytest.FixtureRequest, size: str, world: World, screenshot: Screenshot
) -> None:
    browser_page: Page = request.getfixturevalue(size)

    def assert_fits_phone(page: Page) -> None:
        if size == "phone":
            assert_fits(page)

    log_in(browser_page, "alice@example.com")
    browser_page.goto(f"/installations/{world.site_a.pk}/")
    browser_page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Prices"
    ).click()
    expect(browser_page.get_by_role("heading", name="Time-of-use tariff")).to_be_visible()
    assert_fits_phone(browser_page)

    form = browser_page.get_by_test_id("tariff-form")
    form.get_by_label("Weekdays").fill("07:00-22:00 0.32, 21:00-07:00 0.12")
    form.get_by_role("button", name="Save tariff").click()
    expect(browser_page.get_by_text("overlap", exact=False)).to_be_visible()  # by its field
    assert not Tariff.objects.exists()

    form = browser_page.get_by_test_id("tariff-form")
    form.get_by_label("Weekdays").fill("07:00-22:00 0.32, 22:00-07:00 0.12")
    form.get_by_label("Currency").fill("NOK")
    form.get_by_role("button", name="Save tariff").click()
    expect(browser_page.get_by_text("The tariff applies from", exact=False)).to_be_visible()
    current = browser_page.get_by_test_id("tariff-current")
    bars = current.get_by_role("img")
    label = bars.get_attribute("aria-label") or ""
    assert "22:00-07:00 0.12" in label and "07:00-22:00 0.32" in label
    assert "Weekends and holidays: flat price" in label
    expect(current.locator(".tariff-segment")).to_have_count(3)  # the night band in two pieces
    expect(current.get_by_text("flat price", exact=True)).to_be_visible()
    tariff = Tariff.objects.get(installation=world.site_a)
    assert tariff.currency == "NOK" and tariff.bands.count() == 2
    assert_fits_phone(browser_page)
    screenshot(browser_page, f"tariffs-01-owner-{size}")


def test_a_driver_on_a_phone_sees_the_cost_per_price_slot(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    session = priced_session(world)
    log_in(phone, "dora@example.com")
    phone.goto(f"/my/charging/{session.pk}/")
    slots = phone.get_by_test_id("session-cost-slots")
    expect(slots.get_by_role("heading", name="Cost per price slot")).to_be_visible()
    expect(slots.locator("tbody tr")).to_have_count(2)
    expect(slots.get_by_test_id("cost-total")).to_have_text("4.00 NOK")
    assert_fits(phone)
    screenshot(phone, "tariffs-02-driver-cost")
