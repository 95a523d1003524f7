"""Incidents in a real Chromium on a 375 px phone: the installation's Incidents tab lists a
site outage with its chargers, the owner acknowledges it with a note, and the charger page
shows it. Screenshots for a human: test-artifacts/events-*.png (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from events import consumers
from events.choices import EventType
from events.models import Incident
from events.services import emit
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Screenshot = Callable[[Page, str], Path]


def test_an_owner_acknowledges_a_site_outage_on_a_phone(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    last_seen = timezone.now() - timedelta(minutes=20)
    for charger in (world.charger_a1, world.charger_a2):
        emit(
            EventType.CHARGER_OFFLINE,
            charger_id=charger.pk,
            payload={"last_seen_at": last_seen.isoformat(), "grace_seconds": 120},
        )
    consumers.run_all()
    log_in(phone, "alice@example.com")
    phone.goto(f"/installations/{world.site_a.pk}/")
    phone.get_by_role("link", name="Incidents").click()
    row = phone.locator("[data-incident]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2 chargers offline: A1, A2")
    expect(row.locator("[data-ongoing]")).to_be_visible()
    assert_fits(phone)
    screenshot(phone, "events-10-mobile-incidents")

    row.get_by_text("Acknowledge").first.click()
    row.get_by_label("Note").fill("Router at the gate restarted")
    row.get_by_role("button", name="Acknowledge").click()
    expect(phone.get_by_text("Incident acknowledged: 2 chargers offline: A1, A2")).to_be_visible()
    expect(phone.locator("[data-acknowledged]")).to_contain_text("Alice Owner")
    expect(phone.locator("[data-note]")).to_have_text("Router at the gate restarted")
    incident = Incident.objects.get()
    assert (incident.acknowledged_by, incident.note) == (
        world.alice,
        "Router at the gate restarted",
    )

    phone.goto(f"/chargers/{world.charger_a1.pk}/#incidents")
    section = phone.locator("#incidents")
    expect(section.get_by_role("heading", name="Incidents")).to_be_visible()
    expect(section.locator("[data-incident]")).to_contain_text("2 chargers offline")
    assert_fits(phone)
    screenshot(phone, "events-11-mobile-charger-incidents")

    phone.get_by_role("link", name="Timeline").click()
    expect(phone.get_by_role("heading", name="Timeline of A1")).to_be_visible()
    phone.get_by_label("Commands").uncheck()
    phone.get_by_role("button", name="Filter").click()
    expect(phone).to_have_url(re.compile(r"show=connections"))
    assert_fits(phone)
    screenshot(phone, "events-12-mobile-timeline")
