"""Webhooks in a real Chromium: an owner adds an endpoint from the installation's settings,
copies its secret, sends a test message and sees it delivered in the log; the pages fit a
375 px phone. Screenshots for a human: test-artifacts/webhooks-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in
from tests.webhooks.conftest import Receiver
from webhooks.models import Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def test_an_owner_adds_a_webhook_and_sees_a_test_delivery_succeed(
    page: Page,
    world: World,
    receivers: Callable[..., Receiver],
    screenshot: Screenshot,
) -> None:
    receiver = receivers()
    log_in(page, "alice@example.com")
    page.get_by_role("link", name="Harbour car park").first.click()
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Settings"
    ).click()
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Add a webhook")).to_be_visible()

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Fleet ERP")
    page.get_by_label("connector.faulted (Fault)").check()
    page.get_by_role("button", name="Add webhook").click()
    secret_box = page.get_by_test_id("webhook-secret")
    expect(secret_box).to_contain_text("whsec_")
    receiver.secret = page.get_by_test_id("webhook-secret-value").inner_text().strip()
    assert receiver.secret == Endpoint.objects.get().secret
    screenshot(page, "webhooks-01-added")

    page.get_by_role("button", name="Send a test message").click()
    expect(page.get_by_text("The test message was delivered: HTTP 200")).to_be_visible()
    row = page.get_by_test_id("webhook-deliveries").locator("tbody tr").first
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("HTTP 200")
    assert receiver.events[0]["type"] == "webhook.test"  # the docs' verify() accepted it
    screenshot(page, "webhooks-02-test-delivered")


def test_the_webhook_pages_fit_a_phone(
    phone: Page,
    world: World,
    receivers: Callable[..., Receiver],
    screenshot: Screenshot,
) -> None:
    from webhooks import services

    receiver = receivers()
    endpoint = services.create_endpoint(
        world.site_a, url=receiver.url, description="A long description of the fleet ERP hook"
    )
    receiver.secret = endpoint.secret
    services.send_test(endpoint)
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/webhooks/")
    expect(phone.get_by_role("heading", name="Add a webhook")).to_be_visible()
    assert_fits(phone)
    phone.goto(f"/webhooks/{endpoint.pk}/")
    expect(phone.get_by_test_id("webhook-deliveries")).to_contain_text("Succeeded")
    assert_fits(phone)
    screenshot(phone, "webhooks-03-phone")
