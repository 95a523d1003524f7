"""Reservations in a real Chromium, on a 375 px phone: an owner reserves a connector for a
driver, sees the charger's answer, and cancels; the driver sees the connector held for them.
Screenshots for a human: test-artifacts/access-4*.png (gitignored)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from auth_access import reservation_views, reservations
from auth_access.choices import ReservationStatus
from auth_access.models import ChargeCard, Reservation
from auth_access.virtual_tags import virtual_id_tag
from chargers.choices import ConnectorStatus
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from tests.access_ui.conftest import put_online
from tests.conftest import World
from tests.web.test_browser import assert_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[Page, str], Path]


def test_an_owner_reserves_a_connector_on_a_phone_and_cancels_it(
    phone: Page, world: World, screenshot: Screenshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reservation_views, "ANSWER_WAIT_S", 0)  # no bridge answers here
    put_online(world.charger_a1)
    ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-HARBOUR", name="Fob", installation=world.site_a
    )
    log_in(phone, "alice@example.com")
    phone.goto(f"/chargers/{world.charger_a1.pk}/#reservations")
    section = phone.locator("#reservations")
    expect(section.get_by_role("heading", name="Reservations")).to_be_visible()
    assert_fits(phone)
    section.get_by_label("Driver").select_option(label="Dora Driver (dora@example.com)")
    card = "DORA-HARBOUR “Fob” · Dora Driver (dora@example.com)"
    section.get_by_label("Card").select_option(label=card)
    section.get_by_label("For (minutes)").fill("45")
    section.get_by_role("button", name="Reserve").click()
    expect(phone.get_by_text("Reservation sent to A1; waiting for its answer.")).to_be_visible()
    expect(section.locator('[data-status="requested"]')).to_be_visible()

    command = Command.objects.get(action=CommandAction.RESERVE_NOW)
    Command.objects.filter(pk=command.pk).update(
        status=CommandStatus.ACCEPTED, response={"status": "Accepted"}, completed_at=timezone.now()
    )
    reservations.record_answer(command.pk)  # what the bridge does with the answer
    phone.reload()
    row = section.locator("[data-reservation]")
    expect(row.locator('[data-status="active"]')).to_have_text("Reserved")
    expect(row).to_contain_text("Dora Driver")
    expect(row).to_contain_text("Card DORA-HARBOUR")
    assert_fits(phone)
    screenshot(phone, "access-40-mobile-reserved")

    phone.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Cancel reservation").click()
    expect(phone.get_by_text("cancelled; A1 was told.")).to_be_visible()
    expect(row.locator('[data-status="cancelled"]')).to_be_visible()
    assert Reservation.objects.get().status == ReservationStatus.CANCELLED
    assert Command.objects.filter(action=CommandAction.CANCEL_RESERVATION).count() == 1


def test_the_driver_sees_the_connector_held_for_them(
    phone: Page, world: World, screenshot: Screenshot
) -> None:
    put_online(world.charger_a1, ConnectorStatus.RESERVED)
    Reservation.objects.create(
        charger=world.charger_a1,
        connector_id=1,
        user=world.dora,
        id_tag=virtual_id_tag(world.dora.pk),  # a card's reservation starts with the card
        expires_at=timezone.now() + timedelta(minutes=30),
        status=ReservationStatus.ACTIVE,
        created_by=world.alice,
    )
    log_in(phone, "dora@example.com")
    phone.goto(f"/chargers/{world.charger_a1.pk}/")
    expect(phone.get_by_role("button", name="Start charging on connector 1")).to_be_visible()
    section = phone.locator("#reservations")
    expect(section.get_by_text("Connectors held for you here.")).to_be_visible()
    expect(section.locator('[data-status="active"]')).to_be_visible()
    expect(section.get_by_role("button", name="Reserve")).to_have_count(0)
    assert_fits(phone)
    screenshot(phone, "access-41-mobile-reserved-for-me")
