"""The web UI in a real Chromium (Playwright) against the live server.

The owner logs in through the real form and sets up an installation end to end; a driver sees
only their chargers; every main page fits a 375 px wide phone. Screenshots land in
test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from chargers.models import Charger, Connector
from installations.choices import Role
from installations.models import Installation, Invitation
from installations.services import invite
from tests.conftest import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def log_in(page: Page, email: str) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Installations", exact=True)).to_be_visible()


def bring_chargers_to_life(world: World) -> None:
    """Some live state, so the pages show what an operator would see."""
    now = timezone.now()
    Charger.objects.filter(pk=world.charger_a1.pk).update(is_online=True, last_seen_at=now)
    Connector.objects.filter(charger=world.charger_a1).update(
        status="Charging", status_updated_at=now
    )
    Connector.objects.filter(charger=world.charger_a2, connector_id=1).update(status="Available")
    Connector.objects.filter(charger=world.charger_a2, connector_id=2).update(
        status="Faulted", error_code="GroundFailure"
    )


def test_owner_sets_up_an_installation(page: Page, world: World, screenshot: Screenshot) -> None:
    bring_chargers_to_life(world)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    screenshot(page, "01-login")
    log_in(page, "alice@example.com")
    expect(page.get_by_test_id("installation-card")).to_have_count(1)
    expect(page.get_by_text("Harbour car park")).to_be_visible()
    expect(page.get_by_text("Depot north")).to_have_count(0)
    screenshot(page, "02-installations")

    # Create an installation.
    page.get_by_role("link", name="Create installation").click()
    page.get_by_label("Name").fill("Fjord office")
    page.get_by_label("Address").fill("Strandgata 1, 5013 Bergen")
    page.get_by_label("Time zone").select_option("Europe/Oslo")
    page.get_by_label("Main fuse rating (A)").fill("100")
    page.get_by_label("Price per kWh").fill("2.5")
    page.get_by_label("Currency").fill("nok")
    screenshot(page, "03-create-installation")
    page.get_by_role("button", name="Create installation").click()
    expect(page.get_by_role("heading", name="Fjord office")).to_be_visible()
    expect(page.get_by_text("Fjord office was created. You are its owner.")).to_be_visible()
    screenshot(page, "04-installation-overview")
    fjord = Installation.objects.get(name="Fjord office")
    assert fjord.currency == "NOK"

    # Add a sub-circuit; first a limit above the main fuse, which the model refuses.
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Circuits"
    ).click()
    page.get_by_role("link", name="Add circuit").click()
    page.get_by_label("Name").fill("Garage")
    page.get_by_label("Limit per phase (A)").fill("125")
    page.get_by_role("button", name="Add circuit").click()
    expect(page.get_by_text("125 A is above the parent circuit Main fuse (100 A).")).to_be_visible()
    screenshot(page, "05-circuit-error")
    page.get_by_label("Limit per phase (A)").fill("40")
    page.get_by_role("button", name="Add circuit").click()
    expect(page.get_by_text("Circuit Garage was added.")).to_be_visible()
    expect(page.locator('[data-circuit="Garage"]')).to_be_visible()

    # Register a charger on it: the password is shown once.
    page.get_by_role("link", name="Register charger").first.click()
    page.get_by_label("Name").fill("Bay 1")
    page.get_by_label("OCPP identity").fill("FJORD-BAY-1")
    page.get_by_label("Circuit").select_option(label="\u2003Garage (40 A)")
    page.get_by_label("Connectors").fill("2")
    screenshot(page, "06-register-charger")
    page.get_by_role("button", name="Register charger").click()
    expect(page.get_by_role("heading", name="Bay 1 is registered")).to_be_visible()
    password = page.get_by_test_id("ocpp-password").inner_text()
    assert page.get_by_test_id("ocpp-url").inner_text().endswith("/FJORD-BAY-1")
    charger = Charger.objects.get(ocpp_identity="FJORD-BAY-1")
    assert charger.check_ocpp_password(password)
    assert charger.circuit.name == "Garage"
    screenshot(page, "07-charger-credentials")
    page.get_by_role("link", name="open charger").click()
    expect(page.get_by_role("heading", name="Bay 1")).to_be_visible()
    assert password not in page.content()

    page.goto(f"/installations/{fjord.pk}/circuits/")
    screenshot(page, "08-circuit-tree")

    # Invite a driver.
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Members"
    ).click()
    page.get_by_label("E-mail address").fill("new.driver@example.com")
    page.get_by_label("Role", exact=True).select_option("driver")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("was sent to new.driver@example.com")).to_be_visible()
    expect(
        page.get_by_test_id("invitations-table").get_by_text("new.driver@example.com")
    ).to_be_visible()
    assert Invitation.objects.get(email="new.driver@example.com").installation == fjord
    assert [message.to for message in mail.outbox] == [["new.driver@example.com"]]
    screenshot(page, "09-members")

    # The harbour installation, with live chargers, for the eye.
    page.goto(f"/installations/{world.site_a.pk}/chargers/")
    expect(page.get_by_test_id("chargers-table").get_by_text("HARBOUR-A1")).to_be_visible()
    screenshot(page, "10-chargers")
    page.goto(f"/installations/{world.site_a.pk}/circuits/")
    screenshot(page, "11-harbour-circuits")
    page.goto(f"/chargers/{world.charger_a2.pk}/")
    screenshot(page, "12-charger-detail")


def test_a_driver_sees_only_their_chargers(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    bring_chargers_to_life(world)
    log_in(page, "dave@example.com")
    expect(page.get_by_test_id("installation-card")).to_have_count(1)
    page.get_by_text("Harbour car park").click()
    expect(page.get_by_role("link", name="Register charger")).to_have_count(0)
    expect(page.get_by_role("link", name="Circuits")).to_have_count(0)
    page.get_by_role("navigation", name="Installation sections").get_by_role(
        "link", name="Chargers"
    ).click()
    table = page.get_by_test_id("chargers-table")
    expect(table.get_by_text("HARBOUR-A1")).to_be_visible()
    expect(table.get_by_text("HARBOUR-A2")).to_have_count(0)
    screenshot(page, "20-driver-chargers")
    response = page.goto(f"/chargers/{world.charger_a2.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"/installations/{world.site_b.pk}/")
    assert response is not None and response.status == 404
    screenshot(page, "21-not-found")


def test_an_invited_driver_signs_up_from_the_email_link(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    invite(world.alice, world.site_a, "newbie@example.com", Role.DRIVER)
    link = re.search(r"/invitations/[^/\s]+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Harbour car park")).to_be_visible()
    screenshot(page, "50-invitation")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("newbie@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "51-signup")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    screenshot(page, "52-verification-sent")

    confirm = re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[-1].body).group(0)
    page.goto(confirm)
    screenshot(page, "53-confirm-email")
    page.get_by_role("button", name="Confirm").click()
    # Verified and logged in, back on the invitation: nothing is joined until they accept.
    expect(page.get_by_role("heading", name="Join Harbour car park")).to_be_visible()
    expect(page.get_by_role("button", name="Decline")).to_be_visible()
    screenshot(page, "54-accept-or-decline")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("heading", name="Harbour car park")).to_be_visible()
    expect(page.locator(".page-header .badge-driver")).to_be_visible()


def test_a_driver_answers_an_invitation_on_the_installations_page(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    invite(world.oscar, world.site_b, "dora@example.com", Role.DRIVER)
    log_in(page, "dora@example.com")  # logging in joins nothing
    pending = page.get_by_test_id("pending-invitation")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Depot north")
    expect(page.get_by_test_id("installation-card")).to_have_count(1)  # Harbour only
    screenshot(page, "55-pending-invitation")
    pending.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("You declined the invitation to Depot north.")).to_be_visible()
    expect(page.get_by_test_id("pending-invitation")).to_have_count(0)
    expect(page.get_by_test_id("installation-card")).to_have_count(1)


def test_account_settings_pages(page: Page, world: World, screenshot: Screenshot) -> None:
    log_in(page, "alice@example.com")
    page.get_by_label("Account menu").click()
    screenshot(page, "60-user-menu")
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    screenshot(page, "61-mfa")
    page.get_by_role("link", name="Activate").click()
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("img.qr")).to_be_visible()
    screenshot(page, "62-totp-activate")
    page.get_by_role("link", name="Password").click()
    page.get_by_label("Current Password").fill("not my password")
    page.get_by_label("New Password", exact=True).fill("short")
    page.get_by_label("New Password (again)").fill("different")
    page.get_by_role("button", name="Change Password").click()
    expect(page.locator(".field.has-error").first).to_be_visible()
    screenshot(page, "63-password-errors")
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()


def test_pages_fit_a_phone_screen(phone: Page, world: World, screenshot: Screenshot) -> None:
    bring_chargers_to_life(world)
    phone.goto("/accounts/login/")
    assert_fits(phone)
    screenshot(phone, "30-mobile-login")
    log_in(phone, "alice@example.com")
    site, charger = world.site_a.pk, world.charger_a2.pk
    pages = {
        "31-mobile-installations": "/installations/",
        "32-mobile-overview": f"/installations/{site}/",
        "33-mobile-chargers": f"/installations/{site}/chargers/",
        "34-mobile-circuits": f"/installations/{site}/circuits/",
        "35-mobile-members": f"/installations/{site}/members/",
        "36-mobile-charger": f"/chargers/{charger}/",
        "37-mobile-register": f"/chargers/register/{site}/",
        "38-mobile-settings": f"/installations/{site}/edit/",
        "39-mobile-account": "/accounts/email/",
    }
    for name, url in pages.items():
        phone.goto(url)
        assert_fits(phone)
        screenshot(phone, name)
    phone.get_by_label("Account menu").click()
    expect(phone.get_by_role("button", name="Log out")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "40-mobile-menu")


def assert_fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} is {width}px wide"
