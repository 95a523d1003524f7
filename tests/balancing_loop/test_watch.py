"""What the loop watches after each solve (balancing.watch): a car that gets no current for
BALANCING_NOT_SERVED_MINUTES, a fuse whose measured draw stays above its limit for
BALANCING_OVERLOAD_DEBOUNCE_S. One event per episode, its end told once, the episode kept in the
database (a worker that restarts repeats nothing); an overload is an incident and an e-mail to
owners and installers by default."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from alerts import outbox
from balancing import service, snapshot, watch
from balancing.engine import solve
from balancing.models import BalancingTrigger, WatchEpisode
from chargers.choices import ConnectorStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from events import consumers
from events.choices import EventType, IncidentKind
from events.models import Event, Incident
from installations.models import Installation
from portal.redis import get_redis
from tests.conftest import World

# The consumers (incidents, alerts) read only committed transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def plug_in(charger: Charger, currents: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
    """Online, a car on connector 1, drawing ``currents`` (its failsafe already configured)."""
    charger.connectors.filter(connector_id=1).update(status=ConnectorStatus.CHARGING)
    Charger.objects.filter(pk=charger.pk).update(
        is_online=True, failsafe_sent_a=charger.installation.failsafe_current_a
    )
    redis = get_redis()
    redis.set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), "node-test", ex=60)
    draw(charger, currents)


def draw(charger: Charger, currents: tuple[float, float, float]) -> None:
    get_redis().hset(
        routing.LIVE_KEY.format(charger_id=charger.pk),
        mapping={"online": "1", **{f"current_l{i + 1}": v for i, v in enumerate(currents)}},
    )


def look(site: Installation, at: datetime) -> list[Any]:
    """One solve of ``site`` as the loop does it, watched at ``at``; the events written."""
    installation = Installation.objects.get(pk=site.pk)
    scenario = snapshot.build_scenario(installation)
    result = solve(scenario)
    chargers = {c.ocpp_identity: c for c in installation.chargers.prefetch_related("connectors")}
    return watch.observe(installation, scenario, result, chargers, now=at)


def types(drafts: list[Any]) -> list[str]:
    return [str(draft.type) for draft in drafts]


def test_a_car_without_current_past_the_threshold_is_told_once_and_its_end_once(
    world: World, settings: Any
) -> None:
    settings.BALANCING_NOT_SERVED_MINUTES = 10
    plug_in(world.charger_a1)
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.get(), id_tag="T",
        started_at=timezone.now(), meter_start_wh=0,
    )  # fmt: skip
    # The grid operator allows 3 A: below the charger's 6 A minimum, the car is paused.
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[3, 3, 3])
    start = timezone.now()

    assert look(world.site_a, start) == []  # the episode starts, nothing to say yet
    assert look(world.site_a, start + timedelta(minutes=9)) == []
    told = look(world.site_a, start + timedelta(minutes=10, seconds=5))
    assert types(told) == ["balancing.car_not_served"]
    event = Event.objects.get(type=EventType.CAR_NOT_SERVED)
    assert event.charger_id == world.charger_a1.pk and event.session_id == session.pk
    assert event.severity == "warning"
    assert event.payload == {
        "session_id": session.pk,
        "since": start.isoformat(),
        "threshold_seconds": 600,
        "min_current_a": 6.0,
    }
    # Every later solve (and a restarted worker: the episode is a row) says nothing more.
    assert look(world.site_a, start + timedelta(minutes=11)) == []
    assert look(world.site_a, start + timedelta(minutes=30)) == []

    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=None)
    served = look(world.site_a, start + timedelta(minutes=31))
    assert types(served) == ["balancing.car_served"]
    back = Event.objects.get(type=EventType.CAR_SERVED)
    assert back.payload == {
        "session_id": session.pk,
        "not_served_seconds": 31 * 60,
        "outcome": "served",
    }
    assert not WatchEpisode.objects.exists()
    assert look(world.site_a, start + timedelta(minutes=32)) == []


def test_a_short_wait_says_nothing_and_a_car_that_leaves_ends_the_episode(
    world: World, settings: Any
) -> None:
    settings.BALANCING_NOT_SERVED_MINUTES = 10
    plug_in(world.charger_a1)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[3, 3, 3])
    start = timezone.now()
    look(world.site_a, start)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=None)
    assert look(world.site_a, start + timedelta(minutes=5)) == []  # served again: no news
    assert not WatchEpisode.objects.exists()

    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[3, 3, 3])
    look(world.site_a, start + timedelta(minutes=6))
    assert types(look(world.site_a, start + timedelta(minutes=17))) == ["balancing.car_not_served"]
    world.charger_a1.connectors.filter(connector_id=1).update(status=ConnectorStatus.AVAILABLE)
    left = look(world.site_a, start + timedelta(minutes=18))
    assert types(left) == ["balancing.car_served"]
    assert left[0].payload["outcome"] == "left"
    assert left[0].payload["session_id"] is None  # no session was recorded for that car


def test_chargers_without_a_car_or_offline_are_not_watched(world: World, settings: Any) -> None:
    settings.BALANCING_NOT_SERVED_MINUTES = 1
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[3, 3, 3])
    world.charger_a2.connectors.filter(connector_id=1).update(status=ConnectorStatus.CHARGING)
    start = timezone.now()
    look(world.site_a, start)  # A1: no car; A2: a car, but offline
    assert look(world.site_a, start + timedelta(minutes=5)) == []
    assert not WatchEpisode.objects.exists()


def test_a_fuse_over_its_limit_past_the_debounce_is_an_event_an_incident_and_an_email(
    world: World, settings: Any
) -> None:
    settings.BALANCING_OVERLOAD_DEBOUNCE_S = 60
    plug_in(world.charger_a1, (40.0, 39.0, 12.0))  # on Row A, 32 A
    start = timezone.now()

    assert look(world.site_a, start) == []
    assert look(world.site_a, start + timedelta(seconds=30)) == []
    told = look(world.site_a, start + timedelta(seconds=61))
    assert types(told) == ["fuse.overloaded"]
    event = Event.objects.get(type=EventType.FUSE_OVERLOADED)
    assert event.installation_id == world.site_a.pk and event.charger_id is None
    assert event.severity == "critical"
    assert event.payload == {
        "circuit_id": world.row_a.pk,
        "name": "Row A",
        "draw_a": [40.0, 39.0, 12.0],
        "limit_a": [32.0, 32.0, 32.0],
        "since": start.isoformat(),
    }  # the main fuse (63 A) carries the same draw and is within its limit
    assert look(world.site_a, start + timedelta(minutes=5)) == []  # one per episode

    consumers.run_all()
    incident = Incident.objects.get(kind=IncidentKind.OVERLOAD)
    assert incident.circuit_id == world.row_a.pk and incident.is_open
    assert incident.started_at == start
    assert incident.summary == "Row A overloaded: L1 40 A, L2 39 A (limit 32 A)"
    assert list(incident.members.all()) == []
    outbox.send_due()
    # Owners and installers are subscribed to overloads by default.
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "ingrid@example.com"]
    assert mail.outbox[0].subject == (
        "[Fusebox] Harbour car park: Row A overloaded: L1 40 A, L2 39 A (limit 32 A)"
    )

    draw(world.charger_a1, (20.0, 20.0, 12.0))
    recovered = look(world.site_a, start + timedelta(minutes=6))
    assert types(recovered) == ["fuse.recovered"]
    assert recovered[0].payload == {
        "circuit_id": world.row_a.pk,
        "name": "Row A",
        "draw_a": [20.0, 20.0, 12.0],
        "limit_a": [32.0, 32.0, 32.0],
        "overloaded_seconds": 360,
    }
    consumers.run_all()
    incident.refresh_from_db()
    assert incident.ended_at == start + timedelta(minutes=6)
    mail.outbox.clear()
    outbox.send_due()
    assert len(mail.outbox) == 2 and "back within its limit" in mail.outbox[0].subject


def test_a_brief_spike_is_no_overload(world: World, settings: Any) -> None:
    settings.BALANCING_OVERLOAD_DEBOUNCE_S = 60
    plug_in(world.charger_a1, (40.0, 40.0, 40.0))
    start = timezone.now()
    look(world.site_a, start)
    draw(world.charger_a1, (30.0, 30.0, 30.0))
    assert look(world.site_a, start + timedelta(seconds=45)) == []
    draw(world.charger_a1, (40.0, 40.0, 40.0))
    assert look(world.site_a, start + timedelta(seconds=90)) == []  # a new episode, 0 s old
    assert not Event.objects.filter(type__startswith="fuse.").exists()


def test_the_loop_watches_after_each_solve(world: World, settings: Any) -> None:
    settings.BALANCING_OVERLOAD_DEBOUNCE_S = 0
    plug_in(world.charger_a1, (40.0, 40.0, 40.0))
    service.balance(world.site_a.pk, BalancingTrigger.SWEEP)
    assert list(Event.objects.values_list("type", flat=True)) == ["fuse.overloaded"]
    service.balance(world.site_a.pk, BalancingTrigger.SWEEP)  # same answer, not stored again
    assert Event.objects.count() == 1
