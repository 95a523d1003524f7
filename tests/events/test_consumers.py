"""Consumers read the outbox in commit order through durable cursors: never skip an event whose
transaction commits late (the outbox gap, with two real concurrent transactions), see a failed
batch again, and events are pruned only once every consumer has passed them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from events import consumers
from events.choices import EventType
from events.consumers import batch
from events.models import ConsumerCursor, Event
from events.services import emit
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_connections() -> Iterator[list[BaseDatabaseWrapper]]:
    """Two database connections of their own, each its own transaction (autocommit off)."""
    opened = [connections.create_connection("default") for _ in range(2)]
    for wrapper in opened:
        wrapper.ensure_connection()
        wrapper.set_autocommit(False)
    yield opened
    for wrapper in opened:
        wrapper.rollback()
        wrapper.close()


def insert_event(wrapper: BaseDatabaseWrapper, world: World, note: str) -> int:
    """An event written as any emitter does (xid and recorded_at by their database defaults),
    in ``wrapper``'s open transaction; its id."""
    with wrapper.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_event (type, installation_id, charger_id, connector_id,"
            " occurred_at, severity, payload, version)"
            " VALUES (%s, %s, %s, 0, now(), 'info', %s::jsonb, 1) RETURNING id",
            [EventType.CHARGER_DISCONNECTED, world.site_a.pk, world.charger_a1.pk,
             f'{{"reason": "{note}"}}'],
        )  # fmt: skip
        (event_id,) = cursor.fetchone()
    return event_id


def take(name: str = "test") -> list[int]:
    with batch(name) as events:
        return [event.pk for event in events]


def test_a_lower_id_committed_later_is_not_skipped(
    world: World, other_connections: list[BaseDatabaseWrapper]
) -> None:
    first, second = other_connections
    early_id = insert_event(first, world, "takes its id first, commits last")
    late_id = insert_event(second, world, "takes its id second, commits first")
    assert early_id < late_id
    second.commit()
    # "id > cursor" would read late_id now and move past early_id for good. The consumer waits:
    # first's transaction is still running, so nothing after it is read yet.
    assert take() == []
    first.commit()
    assert take() == [early_id, late_id]
    assert take() == []


def test_ids_and_transaction_ids_in_opposite_orders(
    world: World, other_connections: list[BaseDatabaseWrapper]
) -> None:
    first, second = other_connections
    with first.cursor() as cursor:  # first gets its transaction id before second ...
        cursor.execute("SELECT pg_current_xact_id()")
    with second.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")
    low_id = insert_event(second, world, "lower id, younger transaction")
    high_id = insert_event(first, world, "higher id, older transaction")
    first.commit()
    assert take() == [high_id]  # its transaction is older than every one still running
    second.commit()
    assert take() == [low_id]  # read after, not skipped though its id is lower
    assert ConsumerCursor.objects.get(name="test").event_id == low_id


def test_a_consumer_that_fails_mid_batch_sees_the_batch_again(world: World) -> None:
    written = [emit(EventType.CHARGER_CONNECTED, charger_id=world.charger_a1.pk) for _ in range(3)]
    seen: list[int] = []

    def failing(events: list[Event]) -> None:
        seen.extend(event.pk for event in events[:2])
        raise RuntimeError("the mail server is down")

    with pytest.raises(RuntimeError), batch("mailer") as events:
        failing(events)
    assert take("mailer") == [event.pk for event in written if event]
    assert seen == [event.pk for event in written[:2] if event]
    assert take("mailer") == []


def test_each_consumer_has_its_own_cursor_and_run_all_feeds_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: dict[str, list[int]] = {"a": [], "b": []}

    def broken(events: list[Event]) -> None:
        raise RuntimeError("broken consumer")

    monkeypatch.setattr(
        consumers,
        "CONSUMERS",
        {
            "a": lambda events: got["a"].extend(e.pk for e in events),
            "broken": broken,
            "b": lambda events: got["b"].extend(e.pk for e in events),
        },
    )
    event = emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a1.pk)
    assert event is not None
    consumers.run_all()  # the broken one is logged and does not stop the others
    consumers.run_all()
    assert got == {"a": [event.pk], "b": [event.pk]}
    assert not ConsumerCursor.objects.filter(name="broken").exists()


def test_pruning_waits_for_every_consumer(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "CONSUMERS", {"fast": lambda e: None, "slow": lambda e: None})
    old = timezone.now() - timedelta(days=91)
    events = [
        emit(EventType.CHARGER_CONNECTED, charger_id=world.charger_a1.pk, occurred_at=old)
        for _ in range(2)
    ]
    Event.objects.update(recorded_at=old)
    recent = emit(EventType.CHARGER_CONNECTED, charger_id=world.charger_a1.pk)
    take("fast")
    assert consumers.prune() == 0  # "slow" never read anything
    with batch("slow", limit=1):
        pass
    assert consumers.prune() == 1  # the first, which both have passed
    take("slow")
    assert consumers.prune() == 1  # the second; the recent one stays (retention)
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk if recent else 0]
    assert all(event is not None for event in events)


def test_a_second_reader_of_the_same_consumer_gets_an_empty_batch(
    world: World, other_connections: list[BaseDatabaseWrapper]
) -> None:
    emit(EventType.CHARGER_CONNECTED, charger_id=world.charger_a1.pk)
    holder, _ = other_connections
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["events:busy"])
    assert take("busy") == []
    holder.rollback()
    assert len(take("busy")) == 1
