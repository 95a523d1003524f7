"""A charger's timeline: its log, its commands and its sessions in one list, newest first, with
filters and a cursor that walks every entry once (ties included); owners and installers only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from accounts.models import User
from chargers.choices import EventKind, SessionStatus, StopReason
from chargers.models import ChargerEvent, ChargeSession, Connector
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from events import timeline
from tests.conftest import World

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def log(world: World, kind: EventKind, minutes: float, summary: str, connector: int = 0) -> None:
    ChargerEvent.objects.create(
        charger=world.charger_a1,
        kind=kind,
        timestamp=at(minutes),
        summary=summary,
        connector_id=connector,
    )


@pytest.fixture
def history(world: World) -> None:
    log(world, EventKind.CONNECTED, 0, "Connected")
    log(world, EventKind.BOOT, 1, "Booted: Acme W1, firmware 2.1")
    log(world, EventKind.STATUS, 2, "Connector 1: Preparing", 1)
    log(world, EventKind.FAULT, 50, "Connector 1: GroundFailure (RCD)", 1)
    log(world, EventKind.FIRMWARE, 55, "Firmware update: Installed")
    log(world, EventKind.DISCONNECTED, 60, "Disconnected (code 1006)")
    command = Command.objects.create(
        charger=world.charger_a1,
        action=CommandAction.RESET,
        status=CommandStatus.REJECTED,
        response={"status": "Rejected"},
        requested_by=world.alice,
    )
    Command.objects.filter(pk=command.pk).update(created_at=at(40))
    connector = Connector.objects.get(charger=world.charger_a1, connector_id=1)
    ChargeSession.objects.create(
        charger=world.charger_a1,
        connector=connector,
        id_tag="DORA-1",
        user=world.dora,
        started_at=at(3),
        stopped_at=at(45),
        meter_start_wh=0,
        meter_stop_wh=7500,
        energy_wh=7500,
        status=SessionStatus.COMPLETED,
        stop_reason=StopReason.LOCAL,
    )


def rows(html: str) -> list[str]:
    return re.findall(r'data-entry="(\w+)"', html)


def test_everything_in_one_list_newest_first(
    world: World, history: None, client_as: Callable[[User], Client]
) -> None:
    page = client_as(world.alice).get(f"/chargers/{world.charger_a1.pk}/timeline/")
    assert page.status_code == 200
    html = page.content.decode()
    assert rows(html) == [
        "connections", "other", "faults", "sessions", "commands", "sessions", "statuses",
        "boots", "connections",
    ]  # fmt: skip
    assert "Disconnected (code 1006)" in html
    assert "Rejected (Rejected), by Alice Owner" in html
    assert "7.50 kWh, Stopped at the charger" in html and "by Dora Driver" in html
    assert "DORA-1" not in html


def test_filters(world: World, history: None, client_as: Callable[[User], Client]) -> None:
    client = client_as(world.ingrid)
    url = f"/chargers/{world.charger_a1.pk}/timeline/"
    assert rows(client.get(url + "?show=commands").content.decode()) == ["commands"]
    both = client.get(url + "?show=faults&show=connections").content.decode()
    assert rows(both) == ["connections", "faults", "connections"]
    everything = client.get(url + "?show=bogus&before=not-a-cursor")  # ignored: the first page
    assert everything.status_code == 200 and len(rows(everything.content.decode())) == 9


def test_the_cursor_walks_every_entry_once_also_at_equal_times(world: World) -> None:
    for n in range(23):  # groups of entries at the same instant
        log(world, EventKind.STATUS, n // 4, f"Status {n}", 1)
    for n in range(5):
        command = Command.objects.create(charger=world.charger_a1, action=CommandAction.RESET)
        Command.objects.filter(pk=command.pk).update(created_at=at(n // 2))
    sources = timeline.Sources(
        ChargerEvent.objects.all(), Command.objects.all(), ChargeSession.objects.all()
    )
    seen, cursor = [], None
    while True:
        entries, next_cursor = timeline.page(
            world.charger_a1, set(timeline.Show), sources, cursor, size=4
        )
        seen += [(e.at, e.rank, e.pk) for e in entries]
        if next_cursor is None:
            break
        cursor = timeline.Cursor.parse(next_cursor)
    assert len(seen) == 28 and len(set(seen)) == 28
    assert seen == sorted(seen, reverse=True)


def test_the_page_links_to_older_entries(world: World, client_as: Callable[[User], Client]) -> None:
    for n in range(timeline.PAGE_SIZE + 5):
        log(world, EventKind.STATUS, n, f"Status {n}", 1)
    client = client_as(world.alice)
    url = f"/chargers/{world.charger_a1.pk}/timeline/?show=statuses"
    first = client.get(url).content.decode()
    assert len(rows(first)) == timeline.PAGE_SIZE
    older = re.search(r'href="(\?[^"]+)" rel="next"|rel="next" href="(\?[^"]+)"', first)
    assert older is not None
    link = (older.group(1) or older.group(2)).replace("&amp;", "&")
    second = client.get(f"/chargers/{world.charger_a1.pk}/timeline/{link}").content.decode()
    assert len(rows(second)) == 5 and "Status 0" in second and "Status 54" not in second


def test_only_owners_and_installers_of_the_site(
    world: World, history: None, client_as: Callable[[User], Client]
) -> None:
    url = f"/chargers/{world.charger_a1.pk}/timeline/"
    for user in (world.oscar, world.dora, world.dave):
        assert client_as(user).get(url).status_code == 404, user
    assert client_as(world.ingrid).get(url).status_code == 200
    charger_page = client_as(world.alice).get(f"/chargers/{world.charger_a1.pk}/")
    assert url.encode() in charger_page.content
    assert (
        url.encode() not in client_as(world.dora).get(f"/chargers/{world.charger_a1.pk}/").content
    )
