"""E-mail alerts in a real Chromium at 375 px: a driver opts in to her sessions from the account
menu and mutes a charger; the unsubscribe link of an e-mail asks, then stops the alerts.
Screenshots for a human: test-artifacts/alerts-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from alerts import unsubscribe
from alerts.models import Subscription
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def test_a_driver_opts_in_to_her_sessions_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    log_in(phone, "dora@example.com")
    phone.goto("/accounts/email/")
    phone.get_by_role("link", name="E-mail alerts").click()
    card = phone.locator(f"form[data-installation='{world.site_a.pk}']")
    expect(card.get_by_role("heading", name="Harbour car park")).to_be_visible()
    assert_fits(phone)
    card.get_by_label("My charging session finished").check()
    card.get_by_label("My charging session stopped unexpectedly").check()
    card.get_by_label("A2").check()
    card.get_by_label("Send").select_option("digest")
    screenshot(phone, "alerts-01-settings")
    card.get_by_role("button", name="Save").click()
    expect(phone.get_by_text("Alerts of Harbour car park saved.")).to_be_visible()
    sub = Subscription.objects.get(user=world.dora, installation=world.site_a)
    assert sorted(sub.kinds) == ["session_finished", "session_interrupted"]
    assert [c.name for c in sub.muted_chargers.all()] == ["A2"]
    assert sub.delivery == "digest"
    assert_fits(phone)


def test_the_unsubscribe_link_asks_then_stops_alerts_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    path = "/" + unsubscribe.url_for(world.alice.pk, world.site_a.pk).split("/", 3)[3]
    phone.goto(path)  # from the e-mail: not logged in
    expect(phone.get_by_role("heading", name="Stop alert e-mails?")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "alerts-02-unsubscribe")
    phone.get_by_role("button", name="Unsubscribe").click()
    expect(phone.get_by_role("heading", name="Unsubscribed")).to_be_visible()
    assert Subscription.objects.get(user=world.alice, installation=world.site_a).enabled is False
    assert_fits(phone)
