"""Waking the consumers after a commit: a burst asks for one run at once and one at the end of
the window (so the last commits of a burst never wait for the beat), and a run that finds a
consumer busy asks for another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from events import consumers, services, tasks
from events.choices import EventType
from events.services import TRAILING_KEY, WAKE_KEY, WAKE_WINDOW_S, emit
from portal.redis import get_redis
from tests.conftest import World


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The consumer runs asked of Celery (not sent)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.run_consumers, "apply_async", lambda **kw: calls.append(kw))
    monkeypatch.setattr(services, "_covered_until", 0.0)
    get_redis().delete(WAKE_KEY, TRAILING_KEY)
    yield calls
    get_redis().delete(WAKE_KEY, TRAILING_KEY)


def test_a_burst_asks_for_a_leading_and_a_trailing_run(asked: list[dict[str, Any]]) -> None:
    for _ in range(50):
        services._wake()
    assert asked == [{}, {"countdown": WAKE_WINDOW_S}]


def test_another_process_trailing_run_covers_this_one(asked: list[dict[str, Any]]) -> None:
    get_redis().set(WAKE_KEY, "1", px=500)
    get_redis().set(TRAILING_KEY, "1", px=500)  # another process asked for the trailing run
    services._wake()
    services._wake()
    assert asked == []
    assert services._covered_until > 0


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_wakes_the_consumers(world: World, asked: list[dict[str, Any]]) -> None:
    emit(EventType.CHARGER_CONNECTED, charger_id=world.charger_a1.pk)
    assert asked == [{}]


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_a_consumer_busy_asks_for_another(
    world: World, asked: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "CONSUMERS", {"busy": lambda events: None})
    holder = connections.create_connection("default")
    holder.ensure_connection()
    holder.set_autocommit(False)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["events:busy"])
        assert consumers.run_all() == 0
        assert asked == [{"countdown": consumers.BUSY_RETRY_S}]
    finally:
        holder.rollback()
        holder.close()
    asked.clear()
    consumers.run_all()
    assert asked == []
