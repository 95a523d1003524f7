"""The fleet in a real Chromium on a 375 px phone: the installer opens it from the top bar,
sees the faulted site first with its open incident, the cards stack without sideways
scrolling, filters to the sites with problems and follows a card to the Incidents tab.
Screenshot for a human: test-artifacts/fleet-01-mobile.png (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from chargers.choices import ConnectorStatus
from chargers.models import Charger, Connector
from events.choices import IncidentKind
from events.models import Incident
from installations.services import create_installation
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Screenshot = Callable[[Page, str], Path]


def test_an_installer_finds_the_site_that_needs_a_visit_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    now = timezone.now()
    Charger.objects.filter(pk__in=[world.charger_a1.pk, world.charger_a2.pk]).update(
        is_online=True, last_seen_at=now
    )
    Connector.objects.filter(charger=world.charger_a2, connector_id=2).update(
        status=ConnectorStatus.FAULTED
    )
    Incident.objects.create(
        installation=world.site_a, kind=IncidentKind.FAULT, started_at=now, summary="A2 faulted"
    )
    create_installation(world.ingrid, name="Aardvark yard, a calm site", main_fuse_a=40)

    log_in(phone, "ingrid@example.com")
    phone.get_by_role("link", name="Fleet").click()
    expect(phone.get_by_role("heading", name="Fleet", exact=True)).to_be_visible()
    cards = phone.locator("[data-testid=fleet-row]")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text("Harbour car park")
    expect(cards.first.locator("[data-testid=fleet-faulted]")).to_have_text("1 faulted")
    expect(cards.first.locator("[data-testid=fleet-incidents]")).to_contain_text("1 open incident")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert first and second and second["y"] >= first["y"] + first["height"]  # stacked
    assert first["width"] <= 375
    assert_fits(phone)
    screenshot(phone, "fleet-01-mobile")

    phone.get_by_label("Only with problems").check()
    phone.get_by_role("button", name="Apply").click()
    expect(cards).to_have_count(1)
    cards.first.get_by_role("link", name="1 open incident").click()
    expect(phone).to_have_url(re.compile(rf"/installations/{world.site_a.pk}/incidents/$"))
    expect(phone.locator("[data-incident]")).to_contain_text("A2 faulted")
    assert_fits(phone)
