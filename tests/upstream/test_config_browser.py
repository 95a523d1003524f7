"""The Upstream tab in a real Chromium: an owner configures the installation's upstream (a real
local websocket server accepting ocpp1.6), saves, sees each charger's status, tests the
connection; the tab and the charger page fit a 375 px phone. Screenshots for a human:
test-artifacts/upstream-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import World
from tests.upstream.test_config_connection import Upstream
from tests.web import conftest as web
from tests.web.test_browser import assert_fits, log_in
from upstream.choices import LinkState, QueuedAction
from upstream.models import UpstreamLink, UpstreamMessage, UpstreamSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]
PASSWORD = "a-password-of-24-chars!!"

browser = web.browser
live_static = web.live_static
page = web.page
phone = web.phone
screenshot = web.screenshot


@pytest.fixture(autouse=True)
def local_upstream(settings: Any) -> None:
    settings.UPSTREAM_ALLOW_LOCAL = True


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream(password=PASSWORD)
    yield server
    server.stop()


def test_an_owner_configures_upstream_and_tests_the_connection(
    page: Page, world: World, upstream: Upstream, screenshot: Screenshot
) -> None:
    log_in(page, "alice@example.com")
    page.goto(f"/installations/{world.site_a.pk}/")
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Upstream"
    ).click()
    expect(page.get_by_role("heading", name="Upstream central system")).to_be_visible()
    expect(page.get_by_test_id("upstream-status")).to_contain_text("Not bridged")

    page.get_by_label("Central system URL").fill(f"ws://127.0.0.1:{upstream.port}/ocpp")
    page.get_by_label("Identity presented upstream").fill("FB-{identity}")
    page.get_by_label("Security profile").select_option("1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Reset", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The upstream settings were saved")).to_be_visible()
    expect(page.get_by_test_id("password-stored")).to_be_visible()
    assert PASSWORD not in page.content()
    row = UpstreamSettings.objects.get(installation=world.site_a, charger=None)
    assert (row.password, row.identity) == (PASSWORD, "FB-{identity}")
    assert "Reset" in row.allowed_commands

    UpstreamLink.objects.create(  # what the bridge writes once connected
        charger=world.charger_a1,
        state=LinkState.CONNECTED,
        since=timezone.now(),
        boot_status="Accepted",
        last_sent_at=timezone.now(),
        last_sent_action="Heartbeat",
    )
    UpstreamMessage.objects.create(
        charger=world.charger_a1, action=QueuedAction.METER_VALUES, payload={}
    )
    page.reload()
    a1 = page.get_by_test_id("upstream-status").locator('tr[data-charger="HARBOUR-A1"]')
    expect(a1.get_by_test_id("upstream-state")).to_contain_text("Connected")
    expect(a1.get_by_test_id("upstream-queued")).to_have_text("1")
    expect(a1).to_contain_text("FB-HARBOUR-A1")
    expect(a1).to_contain_text("Heartbeat")
    screenshot(page, "upstream-01-configured")

    a1.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("subprotocol ocpp1.6 agreed")).to_be_visible()
    assert upstream.paths[-1] == "/ocpp/FB-HARBOUR-A1" and upstream.messages == []
    screenshot(page, "upstream-02-tested")


def test_the_upstream_pages_fit_a_phone(
    phone: Page, world: World, upstream: Upstream, screenshot: Screenshot
) -> None:
    UpstreamSettings.objects.create(
        installation=world.site_a,
        url=f"ws://127.0.0.1:{upstream.port}/a/rather/long/path/for/the/central/system",
    )
    UpstreamLink.objects.create(
        charger=world.charger_a1,
        state=LinkState.REFUSED,
        reason="HTTP 401: the identity or password was refused",
        since=timezone.now(),
    )
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/upstream/")
    expect(phone.get_by_test_id("upstream-status")).to_contain_text("Refused")
    assert_fits(phone)
    screenshot(phone, "upstream-03-phone")
    phone.goto(f"/chargers/{world.charger_a1.pk}/")
    expect(phone.get_by_test_id("upstream-panel")).to_contain_text("Refused")
    assert_fits(phone)
    phone.goto(f"/chargers/{world.charger_a1.pk}/upstream/")
    expect(phone.get_by_role("heading", name="Give this charger its own settings")).to_be_visible()
    assert_fits(phone)
