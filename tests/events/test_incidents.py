"""Incidents, the outbox's first consumer: one charger's episode from start to recovery, many
chargers of a site at once as one incident, faults per connector, and nothing applied twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargers.services import register_charger
from events import consumers
from events.choices import EventType, IncidentKind
from events.models import Incident
from events.services import emit
from tests.conftest import World

# The consumer reads only committed transactions: every test commits.
pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def offline(charger_id: int, last_seen: datetime) -> None:
    emit(
        EventType.CHARGER_OFFLINE,
        charger_id=charger_id,
        occurred_at=last_seen + timedelta(minutes=2),
        payload={"last_seen_at": last_seen.isoformat(), "grace_seconds": 120},
    )


def online(charger_id: int, at: datetime) -> None:
    emit(EventType.CHARGER_ONLINE, charger_id=charger_id, occurred_at=at, payload={})


def fault(charger_id: int, connector: int, at: datetime, code: str) -> None:
    payload = {"status": "Faulted", "error_code": code, "vendor_error_code": ""}
    emit(
        EventType.CONNECTOR_FAULTED,
        charger_id=charger_id,
        connector_id=connector,
        occurred_at=at,
        payload=payload,
    )


def recovered(charger_id: int, connector: int, at: datetime) -> None:
    emit(
        EventType.CONNECTOR_RECOVERED,
        charger_id=charger_id,
        connector_id=connector,
        occurred_at=at,
        payload={"status": "Available"},
    )


def run() -> None:
    consumers.run_all()


def test_one_charger_offline_from_its_last_contact_until_it_is_back(world: World) -> None:
    offline(world.charger_a1.pk, minutes(0))
    run()
    incident = Incident.objects.get()
    assert (incident.kind, incident.started_at, incident.ended_at) == ("offline", T0, None)
    assert incident.summary == "A1 offline"
    assert incident.installation == world.site_a
    online(world.charger_a1.pk, minutes(42))
    run()
    incident.refresh_from_db()
    assert incident.ended_at == minutes(42) and incident.duration == timedelta(minutes=42)
    (member,) = incident.members.all()
    assert (member.charger, member.started_at, member.ended_at) == (
        world.charger_a1,
        T0,
        minutes(42),
    )


def test_a_site_whose_internet_is_down_is_one_incident_listing_its_chargers(
    world: World,
) -> None:
    more = [
        register_charger(circuit=world.main_a, name=f"A{n}", ocpp_identity=f"HARBOUR-A{n}")[0]
        for n in range(3, 9)
    ]
    chargers = [world.charger_a1, world.charger_a2, *more]
    for n, charger in enumerate(chargers):
        offline(charger.pk, minutes(n * 0.1))  # within seconds of each other
    offline(world.charger_b1.pk, minutes(0))  # another installation: its own incident
    run()
    incident = Incident.objects.get(installation=world.site_a)
    assert incident.members.count() == 8
    assert incident.summary == "8 chargers offline: A1, A2, A3, A4, A5…"
    assert Incident.objects.filter(installation=world.site_b).count() == 1
    for charger in chargers[:-1]:
        online(charger.pk, minutes(30))
    run()
    incident.refresh_from_db()
    assert incident.is_open  # one charger is still away
    online(chargers[-1].pk, minutes(55))
    run()
    incident.refresh_from_db()
    assert incident.ended_at == minutes(55)


def test_a_charger_going_offline_long_after_is_a_new_incident(
    world: World, settings: object
) -> None:
    offline(world.charger_a1.pk, minutes(0))
    offline(world.charger_a2.pk, minutes(30))  # beyond EVENTS_INCIDENT_WINDOW_S (5 min)
    run()
    assert Incident.objects.count() == 2


def test_a_fault_per_connector_updated_by_a_new_code_and_closed_by_recovery(
    world: World,
) -> None:
    fault(world.charger_a2.pk, 1, minutes(0), "GroundFailure")
    fault(world.charger_a2.pk, 1, minutes(1), "OverCurrentFailure")  # the same episode
    fault(world.charger_a2.pk, 2, minutes(2), "ConnectorLockFailure")
    run()
    incident = Incident.objects.get()
    assert incident.kind == IncidentKind.FAULT
    assert [(m.connector_id, m.detail) for m in incident.members.all()] == [
        (1, "OverCurrentFailure"),
        (2, "ConnectorLockFailure"),
    ]
    assert incident.summary == "2 faults: A2"
    recovered(world.charger_a2.pk, 1, minutes(10))
    run()
    incident.refresh_from_db()
    assert incident.is_open
    recovered(world.charger_a2.pk, 2, minutes(12))
    run()
    incident.refresh_from_db()
    assert incident.ended_at == minutes(12)


def test_events_are_applied_once_and_a_recovery_without_an_incident_changes_nothing(
    world: World,
) -> None:
    online(world.charger_a1.pk, minutes(0))
    recovered(world.charger_a1.pk, 1, minutes(0))
    offline(world.charger_a1.pk, minutes(1))
    run()
    run()
    assert Incident.objects.count() == 1
    assert Incident.objects.get().members.count() == 1


def test_a_failing_batch_is_applied_again_from_the_start(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from events import incidents

    offline(world.charger_a1.pk, minutes(0))
    offline(world.charger_a2.pk, minutes(0))
    calls = {"n": 0}
    real = incidents._offline

    def crash_on_the_second(event: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        real(event)  # type: ignore[arg-type]

    monkeypatch.setitem(incidents.HANDLERS, EventType.CHARGER_OFFLINE, crash_on_the_second)
    run()  # the first event's incident is rolled back with the cursor
    assert not Incident.objects.exists()
    run()
    assert Incident.objects.get().members.count() == 2
