"""The access-control UI in a real Chromium: an owner assigns a card seen at a charger and
grants a driver a further charger; a driver starts charging and the panel follows the charger's
answer without a reload; every page fits a 375 px phone. Screenshots for a human:
test-artifacts/access-*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from auth_access import charging_views, services
from auth_access.choices import AuthorizationStatus
from auth_access.models import ChargeCard, ChargerPermission
from commands.choices import CommandStatus
from commands.models import Command
from tests.access_ui.conftest import a_crowd, decision, put_online, see_card
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def some_history(world: World) -> None:
    now = timezone.now()
    see_card(world.charger_a1, "CAFE01", times=3, at=now - timedelta(hours=2))
    see_card(world.charger_a2, "CAFE01")
    see_card(world.charger_a2, "04A2B9C1D2")
    services.add_card(world.dora, world.dora, "DORA-1", name="Blue fob")
    decision(world.charger_a1, "DORA-1", user=world.dora, at=now - timedelta(minutes=30))
    decision(world.charger_a1, "CAFE01", AuthorizationStatus.INVALID, reason="unknown card",
             at=now - timedelta(minutes=10))  # fmt: skip


def test_an_owner_assigns_a_seen_card_and_grants_a_charger(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    some_history(world)
    log_in(page, "alice@example.com")
    page.get_by_role("link", name="Harbour car park").first.click()
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Access"
    ).click()
    expect(page.get_by_role("heading", name="Who may charge")).to_be_visible()
    expect(page.get_by_text("2 unknown cards were shown at your chargers.")).to_be_visible()
    screenshot(page, "access-01-who-may-charge")

    # A card shown at A1 and A2 becomes Dave's, in one step.
    page.get_by_role("link", name="Assign them to members").click()
    seen = page.locator('[data-seen="CAFE01"]')
    expect(seen.get_by_text("4\u00d7")).to_be_visible()
    expect(seen.get_by_text("Shown at A2 (1\u00d7), A1 (3\u00d7).")).to_be_visible()
    screenshot(page, "access-02-seen-cards")
    seen.get_by_label("Member").select_option(label="Dave Driver (dave@example.com)")
    seen.get_by_label("Card name").fill("Van 3")
    seen.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Card CAFE01 now belongs to Dave Driver.")).to_be_visible()
    expect(page.locator('[data-seen="CAFE01"]')).to_have_count(0)
    card = ChargeCard.objects.get(id_tag="CAFE01")
    assert (card.user, card.name) == (world.dave, "Van 3")
    screenshot(page, "access-03-seen-card-assigned")

    # Dave may charge on A1 only: the owner adds A2.
    page.get_by_role("navigation", name="Access sections").get_by_role(
        "link", name="Who may charge"
    ).click()
    dave = page.locator('[data-member="dave@example.com"]')
    expect(dave.get_by_text("Only A1")).to_be_visible()
    expect(dave.get_by_text("CAFE01")).to_be_visible()
    dave.get_by_text("Change where Dave Driver may charge").click()
    dave.get_by_label("A2").check()
    screenshot(page, "access-04-grant")
    dave.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Dave Driver may now charge on A1, A2.")).to_be_visible()
    dave = page.locator('[data-member="dave@example.com"]')
    expect(dave.get_by_text("Only A1, A2")).to_be_visible()
    granted = ChargerPermission.objects.filter(membership__user=world.dave)
    assert sorted(granted.values_list("charger__name", flat=True)) == ["A1", "A2"]
    screenshot(page, "access-05-granted")

    page.get_by_role("link", name="Log", exact=True).click()
    expect(page.get_by_test_id("authorization-log").get_by_text("unknown card")).to_be_visible()
    screenshot(page, "access-06-log")
    page.get_by_role("link", name="External authorizer").click()
    expect(page.get_by_role("heading", name="In plain words")).to_be_visible()
    screenshot(page, "access-07-external")
    page.get_by_role("link", name="Rules").click()
    screenshot(page, "access-08-rules")


def test_a_driver_starts_charging_and_the_panel_follows(
    page: Page, world: World, screenshot: Screenshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charging_views, "PENDING_POLL_MS", 300)
    put_online(world.charger_a1)
    log_in(page, "dora@example.com")
    page.goto(f"/chargers/{world.charger_a1.pk}/")
    panel = page.locator("#charging")
    panel.get_by_role("button", name="Start charging on connector 1").click()
    expect(panel.get_by_text("Waiting for the charger to answer (connector 1)…")).to_be_visible()
    screenshot(page, "access-10-start-pending")
    Command.objects.update(status=CommandStatus.ACCEPTED)  # the charger answers
    expect(panel.get_by_text("Accepted: plug in your car at connector 1.")).to_be_visible()
    screenshot(page, "access-11-start-accepted")

    page.get_by_role("link", name="My cards").click()
    expect(page.get_by_role("heading", name="My charge cards")).to_be_visible()
    page.get_by_label("Card number (idTag)").fill("has space")
    page.get_by_role("button", name="Add card").click()
    expect(page.locator(".field.has-error")).to_contain_text("without spaces")
    page.get_by_label("Card number (idTag)").fill("04a2b9c1")
    page.get_by_label("Name").fill("Key fob")
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_text("Card 04A2B9C1 was added.")).to_be_visible()
    screenshot(page, "access-12-my-cards")


def test_the_access_pages_fit_a_phone(phone: Page, world: World, screenshot: Screenshot) -> None:
    some_history(world)
    put_online(world.charger_a2)
    log_in(phone, "alice@example.com")
    site = world.site_a.pk
    pages = {
        "access-30-mobile-people": f"/installations/{site}/access/",
        "access-31-mobile-seen": f"/installations/{site}/access/seen-cards/",
        "access-32-mobile-rules": f"/installations/{site}/access/rules/",
        "access-33-mobile-external": f"/installations/{site}/access/external/",
        "access-34-mobile-log": f"/installations/{site}/access/log/",
        "access-35-mobile-charger": f"/chargers/{world.charger_a2.pk}/",
        "access-36-mobile-my-cards": "/access/cards/",
    }
    for name, url in pages.items():
        phone.goto(url)
        assert_fits(phone)
        screenshot(phone, name)
    dave = phone.locator('[data-member="dave@example.com"]')
    phone.goto(f"/installations/{site}/access/")
    dave.get_by_text("Change where Dave Driver may charge").click()
    assert_fits(phone)
    screenshot(phone, "access-37-mobile-grant")


def test_a_housing_cooperative_finds_a_member_among_sixty_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    a_crowd(world)
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/access/")
    members = phone.locator("[data-member]")
    expect(members).to_have_count(50)
    expect(phone.get_by_text("Page 1 of 2")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "access-38-mobile-people-paged")
    phone.get_by_role("link", name="Next").click()
    expect(members).to_have_count(10)
    search = phone.get_by_label("Search members")
    search.fill("zed4")
    search.press("Enter")
    expect(members).to_have_count(10)  # zed40 ... zed49
    expect(phone.locator('[data-member="zed41@example.com"]')).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "access-39-mobile-people-search")
