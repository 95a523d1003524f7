"""The Planning tab and Plan a new site in a real Chromium, at desktop size and on a 375 px
phone. Screenshots for a human: test-artifacts/planning-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import World
from tests.planning.conftest import record_history
from tests.web import conftest as web
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]

browser = web.browser
live_static = web.live_static
page = web.page
phone = web.phone
screenshot = web.screenshot


def test_an_owner_asks_what_if_from_the_installation_tab(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    record_history(world)
    log_in(page, "alice@example.com")
    page.goto(f"/installations/{world.site_a.pk}/")
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Planning"
    ).click()
    expect(page.get_by_role("heading", name="What if")).to_be_visible()
    form = page.get_by_test_id("what-if-form")
    form.get_by_label("More chargers").fill("2")
    form.get_by_label("On circuit").select_option(label="Row A (32 A)")
    form.get_by_label("New chargers' max current (A)").fill("16")
    form.get_by_label("Main fuse (A)").fill("20")
    form.get_by_role("button", name="Replay").click()
    # The main fuse below Row A: a form error on the field, no report.
    expect(page.locator("#id_main_fuse_a_error_1")).to_contain_text("would be above")
    expect(page.get_by_test_id("planning-report")).to_have_count(0)
    page.get_by_test_id("what-if-form").get_by_label("Main fuse (A)").fill("50")
    page.get_by_test_id("what-if-form").get_by_role("button", name="Replay").click()
    report = page.get_by_test_id("planning-report")
    expect(report).to_be_visible()
    expect(page.get_by_test_id("planning-validation")).to_contain_text("within 5 %")
    figures = page.get_by_test_id("planning-figures")
    expect(figures.get_by_role("columnheader", name="Today")).to_be_visible()
    expect(figures.get_by_role("columnheader", name="Changed")).to_be_visible()
    expect(page.get_by_test_id("planning-chart")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename.endswith(".csv")
    screenshot(page, "planning-what-if")


def test_the_planning_pages_fit_a_phone(phone: Page, world: World, screenshot: Screenshot) -> None:
    record_history(world)
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/planning/?days=28&more_cars_percent=50")
    expect(phone.get_by_test_id("planning-report")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "planning-what-if-phone")
    phone.goto("/planning/new-site/")
    form = phone.get_by_test_id("new-site-form")
    form.get_by_label("Used as").select_option("depot")
    form.get_by_label("Main fuse (A)", exact=True).fill("125")
    form.get_by_label("Each circuit (A)").fill("63")
    form.get_by_label("Chargers per circuit").fill("8")
    form.get_by_label("Charger max current (A)").fill("16")
    form.get_by_role("button", name="Plan").click()
    expect(phone.get_by_test_id("planning-report")).to_be_visible()
    expect(phone.get_by_test_id("planning-figures")).to_contain_text("Planned")
    assert_fits(phone)
    screenshot(phone, "planning-new-site-phone")
