"""Chromium on the real ASGI server: the Load tab and the charger page follow a published change
at once, with the fast poll switched off (so only the event stream can have updated them), and
the charger page shows a session and a fault a simulated charger reports, without a reload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from auth_access.models import ChargeCard
from balancing import views
from portal import live
from tests.balancing_ui.conftest import set_live
from tests.conftest import World
from tests.ocpp.conftest import Chargers
from tests.web.conftest import browser  # noqa: F401  (Chromium for this module)
from tests.web.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    # WhiteNoise serves static files with a sync iterator, which Django's ASGI handler reads
    # whole with this warning (WhiteNoise 6 has no ASGI mode); the pages' own responses do not.
    pytest.mark.filterwarnings(
        "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"
    ),
]


@pytest.fixture
def page(browser: Browser, asgi_server: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=asgi_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_load_tab_follows_a_change_without_polling(
    page: Page, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "POLL_INTERVAL_MS", 600_000)  # no poll within this test
    set_live(world.charger_a1, (14.2, 14.0, 13.8), power_w=9700)
    log_in(page, "alice@example.com")
    page.goto(f"/installations/{world.site_a.pk}/load/")
    expect(page.locator("[data-load][data-load-streaming]")).to_have_count(1)
    row_l1 = page.get_by_role("meter", name="Row A L1")
    expect(row_l1).to_have_attribute("aria-valuenow", "14.2")

    set_live(world.charger_a1, (30.5, 8.0, 8.0), power_w=10600)
    live.publish_change(world.site_a.pk, [world.charger_a1.pk])
    expect(row_l1).to_have_attribute("aria-valuenow", "30.5", timeout=3000)
    expect(page.locator("[data-load-status]")).to_contain_text("updated")


def test_the_charger_page_follows_a_change_of_its_charger(page: Page, world: World) -> None:
    set_live(world.charger_a1, (10.0, 10.0, 10.0), power_w=6900)
    log_in(page, "alice@example.com")
    page.goto(f"/chargers/{world.charger_a1.pk}/")
    expect(page.locator("#live[data-streaming]")).to_have_count(1)
    current = page.locator("[data-live=current]")
    expect(current).to_contain_text("10.0")

    set_live(world.charger_a1, (16.0, 16.0, 16.0), power_w=11000)
    live.publish_change(world.site_a.pk, [world.charger_a1.pk])
    expect(current).to_contain_text("16.0 / 16.0 / 16.0 A", timeout=3000)  # not the 60 s poll


def test_the_charger_page_shows_a_session_and_a_fault_as_the_charger_reports_them(
    page: Page, world: World, chargers: Chargers
) -> None:
    """Events reach the page at their commit (events.services -> portal.live): the Charging
    panel fetches itself when a session starts or its charger faults, without a reload (the
    panel does not poll while nothing waits, and the live card's poll does not touch it)."""
    ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")
    a1 = chargers.connect(world.charger_a1)
    log_in(page, "alice@example.com")
    page.goto(f"/chargers/{world.charger_a1.pk}/")
    expect(page.locator("#live[data-streaming]")).to_have_count(1)
    connector = page.locator("[data-charging-panel] [data-connector='1']")
    expect(connector).not_to_contain_text("is charging")

    now = timezone.now().isoformat().replace("+00:00", "Z")
    start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "timestamp": now}
    a1.result("StartTransaction", start)
    expect(connector).to_contain_text("Dora Driver is charging since", timeout=2000)

    fault = {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}
    a1.result("StatusNotification", fault)
    expect(connector.locator(".badge")).to_have_text("Faulted", timeout=2000)
