"""The Load tab in a real Chromium: the bars follow the live state without a reload, and the
page fits a phone. Screenshots for a human: test-artifacts/load-tab*.png (gitignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from balancing import views
from chargers.models import Charger
from installations.models import Installation
from tests.balancing_ui.conftest import give_limit, record_decision, set_live
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VAR = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(autouse=True)
def _fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "POLL_INTERVAL_MS", 600)
    VAR.mkdir(exist_ok=True)


def _a_busy_evening(world: World) -> None:
    Charger.objects.filter(pk=world.charger_a2.pk).update(phases=3, phase_rotation="L2L3L1")
    set_live(world.charger_a1, (14.2, 14.0, 13.8), power_w=9700)
    give_limit(world.charger_a1, 16)
    set_live(world.charger_a2, (0.0, 0.0, 0.0))
    give_limit(world.charger_a2, 0)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[40, 50, 50])
    main = world.main_a.pk
    record_decision(world.site_a, trigger="event", reason="car plugged in", commands_sent=2,
                    notes=[f"HARBOUR-A2 paused: circuit-{main} cannot give every car 6 A (L1 full)"],
                    paused=["HARBOUR-A2"])  # fmt: skip


def test_the_bars_follow_the_live_state(page: Page, world: World) -> None:
    _a_busy_evening(world)
    log_in(page, "alice@example.com")
    page.get_by_role("link", name="Harbour car park").first.click()
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Load"
    ).click()
    expect(page.get_by_role("heading", name="Fuses")).to_be_visible()
    row_l1 = page.get_by_role("meter", name="Row A L1")
    expect(row_l1).to_have_attribute("aria-valuenow", "14.2")
    paused = page.locator(f'[data-charger="{world.charger_a2.pk}"]')
    expect(paused.get_by_text("Paused", exact=True)).to_be_visible()
    expect(paused.get_by_text("Main fuse cannot give every car 6 A (L1 full).")).to_be_visible()
    expect(page.locator("[data-load-status]")).to_contain_text("Live")
    expect(page.locator("[data-load-status]")).to_contain_text("updated")  # a poll came back
    expect(page.locator("[data-load-stale]")).to_be_hidden()
    expect(page.locator('[data-total="main_limit"]')).to_have_text("of 40 A on L1")
    page.wait_for_timeout(800)  # let the bars finish their transition
    page.screenshot(path=str(VAR / "load-tab.png"), full_page=True)

    # The car on A1 slows down and A2 gets a limit: the page follows without a reload.
    set_live(world.charger_a1, (30.5, 8.0, 8.0), power_w=10600)
    set_live(world.charger_a2, (10.0, 10.0, 10.0), power_w=6900)
    give_limit(world.charger_a2, 10)
    record_decision(world.site_a, commands_sent=1, notes=["HARBOUR-A1 held near its draw"])
    expect(row_l1).to_have_attribute("aria-valuenow", "30.5")
    expect(page.locator(f'[data-fuse="{world.row_a.pk}"] [data-phase="L1"]')).to_have_class(
        "phase-bar lvl-full"
    )  # 30.5 of 32 A is above 95 %
    expect(paused.get_by_text("Charging", exact=True)).to_be_visible()
    expect(paused.locator('[data-value="allowed"]')).to_have_text("10 A")
    expect(page.locator('[data-total="power_kw"]')).to_have_text("17.5")
    expect(page.locator("[data-decisions] .note").first).to_have_text("A1 held near its draw")
    # A2 (L2 L3 L1) adds 10 A on each phase of the main fuse: 40.5 A of the meter's 40 A on L1.
    main_l1 = page.get_by_role("meter", name="Main fuse L1")
    expect(main_l1).to_have_attribute("aria-valuenow", "40.5")
    expect(page.locator(f'[data-fuse="{world.main_a.pk}"] [data-fuse-level]')).to_have_text(
        "Over limit"
    )
    expect(page.locator('[data-total="main_load"]')).to_have_text("40.5")
    expect(page.locator("[data-main-level]")).to_have_class("stat-value lvl-text-over")
    page.wait_for_timeout(800)
    page.screenshot(path=str(VAR / "load-tab-after.png"), full_page=True)


def test_the_load_tab_fits_a_phone(phone: Page, world: World) -> None:
    _a_busy_evening(world)
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/load/")
    expect(phone.get_by_role("meter", name="Main fuse L1")).to_be_visible()
    assert_fits(phone)
    phone.wait_for_timeout(800)
    phone.screenshot(path=str(VAR / "load-tab-phone.png"), full_page=True)
