"""Periodic upkeep of access control (``auth_access.hygiene``, Celery beat): retention of records
and seen cards, list syncs retried, cards expiring during a session, all safe to run twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from auth_access import hygiene, tasks
from auth_access.choices import LocalListStatus, RunningSessionPolicy
from auth_access.models import (
    AccessPolicy,
    AuthorizationRecord,
    ChargeCard,
    LocalListState,
    SeenCard,
)
from chargers.models import Charger, ChargeSession
from commands.models import Command
from portal.redis import get_redis
from tests.conftest import World
from tests.ocpp.conftest import TestCharger, eventually

DAY = timedelta(days=1)


def record(world: World, age: timedelta) -> AuthorizationRecord:
    return AuthorizationRecord.objects.create(
        installation=world.site_a,
        charger=world.charger_a1,
        id_tag="DORA-1",
        trigger="authorize",
        status="Accepted",
        reason="test",
        source="local",
        latency_ms=1.0,
        created_at=timezone.now() - age,
    )


def seen(charger: Charger, id_tag: str, age: timedelta) -> SeenCard:
    moment = timezone.now() - age
    return SeenCard.objects.create(
        charger=charger, id_tag=id_tag, first_seen_at=moment, last_seen_at=moment
    )


class TestRetention:
    def test_records_past_the_retention_go_in_batches_and_the_rest_stay(self, world: World) -> None:
        old = [record(world, 400 * DAY) for _ in range(5)]
        kept = [record(world, 364 * DAY), record(world, timedelta(0))]
        assert hygiene.prune_records(365 * DAY, batch=2) == len(old)
        assert set(AuthorizationRecord.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
        assert hygiene.prune_records(365 * DAY, batch=2) == 0  # twice: nothing more

    def test_seen_cards_not_seen_for_long_leave_the_list(self, world: World) -> None:
        seen(world.charger_a1, "GONE-1", 91 * DAY)
        seen(world.charger_b1, "GONE-2", 200 * DAY)
        recent = seen(world.charger_a1, "HERE-1", 89 * DAY)
        assert hygiene.prune_seen_cards(90 * DAY) == 2
        assert list(SeenCard.objects.values_list("pk", flat=True)) == [recent.pk]

    def test_the_daily_task_reads_the_settings(self, world: World, settings: Any) -> None:
        settings.ACCESS_RECORD_RETENTION_DAYS = 30
        settings.ACCESS_SEEN_CARD_RETENTION_DAYS = 7
        record(world, 31 * DAY)
        record(world, 29 * DAY)
        seen(world.charger_a1, "GONE-1", 8 * DAY)
        assert tasks.prune() == {"records": 1, "seen_cards": 1}

    def test_the_defaults(self) -> None:
        assert (settings.ACCESS_RECORD_RETENTION_DAYS, settings.ACCESS_SEEN_CARD_RETENTION_DAYS) == (
            365, 90,
        )  # fmt: skip


def test_beat_runs_the_sweep_and_the_daily_prune() -> None:
    from portal.celery import app

    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["auth_access.tasks.sweep"] == settings.ACCESS_SWEEP_SECONDS == 60.0
    assert schedule["auth_access.tasks.prune"] == 24 * 3600.0
    app.loader.import_default_modules()
    assert {"auth_access.tasks.sweep", "auth_access.tasks.prune"} <= set(app.tasks)


class TestListSyncRetries:
    @pytest.fixture
    def queued(self, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
        calls: list[tuple[int, bool]] = []
        monkeypatch.setattr(
            tasks.sync_local_list, "apply_async", lambda args, **kw: calls.append(tuple(args))
        )
        return calls

    def state(self, charger: Charger, status: str, age: timedelta, configured: bool = True) -> None:
        LocalListState.objects.create(charger=charger, status=status)
        LocalListState.objects.filter(charger=charger).update(
            updated_at=timezone.now() - age, configured_at=timezone.now() if configured else None
        )

    def test_online_chargers_whose_list_failed_or_is_pending_are_retried(
        self,
        world: World,
        queued: list[tuple[int, bool]],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        a1, a2, b1 = world.charger_a1, world.charger_a2, world.charger_b1
        Charger.objects.filter(pk__in=[a1.pk, a2.pk]).update(is_online=True)
        self.state(a1, LocalListStatus.FAILED, 10 * timedelta(minutes=1))
        self.state(a2, LocalListStatus.UNKNOWN, timedelta(minutes=1))  # tried a minute ago
        self.state(b1, LocalListStatus.FAILED, DAY)  # offline: its boot will sync it
        with django_capture_on_commit_callbacks(execute=True):
            assert hygiene.retry_list_syncs() == 1
        assert queued == [(a1.pk, False)]
        LocalListState.objects.filter(charger=a2).update(updated_at=timezone.now() - DAY)
        with django_capture_on_commit_callbacks(execute=True):
            assert hygiene.retry_list_syncs() == 2  # a1 again: still failed, and a2 now
        assert queued == [(a1.pk, False), (a2.pk, False)]  # a1's sync is queued already

    def test_in_sync_and_unsupported_lists_are_left_alone_a_missing_state_is_set_up(
        self,
        world: World,
        queued: list[tuple[int, bool]],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        a1, a2, b1 = world.charger_a1, world.charger_a2, world.charger_b1
        Charger.objects.filter(pk__in=[a1.pk, a2.pk, b1.pk]).update(is_online=True)
        self.state(a1, LocalListStatus.IN_SYNC, DAY)
        self.state(a2, LocalListStatus.NOT_SUPPORTED, DAY)
        with django_capture_on_commit_callbacks(execute=True):
            assert hygiene.retry_list_syncs() == 1
        assert queued == [(b1.pk, True)]  # never configured: the boot set-up first

    def test_a_run_is_bounded_longest_waiting_first(
        self,
        world: World,
        queued: list[tuple[int, bool]],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        a1, a2 = world.charger_a1, world.charger_a2
        Charger.objects.filter(pk__in=[a1.pk, a2.pk]).update(is_online=True)
        self.state(a1, LocalListStatus.FAILED, timedelta(hours=1))
        self.state(a2, LocalListStatus.FAILED, timedelta(hours=2))
        with django_capture_on_commit_callbacks(execute=True):
            assert hygiene.retry_list_syncs(limit=1) == 1
        assert queued == [(a2.pk, False)]


def charging(world: World, card: ChargeCard) -> ChargeSession:
    return ChargeSession.objects.create(
        charger=world.charger_a1,
        connector=world.charger_a1.connectors.get(connector_id=1),
        id_tag=card.id_tag,
        user=card.user,
        card=card,
        started_at=timezone.now() - timedelta(hours=1),
        meter_start_wh=0,
    )


def stop_on_revocation(world: World) -> None:
    AccessPolicy.objects.filter(installation=world.site_a).update(
        running_session_policy=RunningSessionPolicy.STOP
    )


class TestCardsExpiringDuringASession:
    def test_installations_that_stop_sessions_get_an_enforcement(
        self, world: World, django_capture_on_commit_callbacks: Any
    ) -> None:
        stop_on_revocation(world)
        card = ChargeCard.objects.create(
            user=world.dora, id_tag="DORA-1", expires_at=timezone.now() + DAY
        )
        charging(world, card)
        assert hygiene.enforce_expired_cards() == []  # valid still
        ChargeCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(1))
        key = tasks.ENFORCE_QUEUED_KEY.format(installation_id=world.site_a.pk)
        with django_capture_on_commit_callbacks(execute=True):
            assert hygiene.enforce_expired_cards() == [world.site_a.pk]
        assert get_redis().exists(key)
        with django_capture_on_commit_callbacks(execute=True):  # twice: still one task queued
            assert hygiene.enforce_expired_cards() == [world.site_a.pk]

    def test_where_sessions_run_to_their_end_nothing_happens(self, world: World) -> None:
        card = ChargeCard.objects.create(
            user=world.dora, id_tag="DORA-1", expires_at=timezone.now() - timedelta(minutes=1)
        )
        charging(world, card)
        assert hygiene.enforce_expired_cards() == []


@pytest.mark.usefixtures("transactional_db")
def test_a_card_that_expires_mid_session_is_stopped_by_the_sweep(
    world: World, a1: TestCharger
) -> None:
    """Over a real websocket: the card is valid at the start; it expires while charging; the
    sweep queues the enforcement, which stops the session with a record saying why."""
    stop_on_revocation(world)
    card = ChargeCard.objects.create(
        user=world.dora, id_tag="DORA-1", expires_at=timezone.now() + timedelta(hours=1)
    )
    start = {
        "connectorId": 1,
        "idTag": "DORA-1",
        "meterStart": 0,
        "timestamp": "2026-02-01T18:00:00Z",
    }
    tx = int(a1.result("StartTransaction", start)["transactionId"])
    ChargeCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.sweep()["enforcements"] == 1
    assert get_redis().exists(tasks.ENFORCE_QUEUED_KEY.format(installation_id=world.site_a.pk))
    assert tasks.enforce_access(world.site_a.pk) == 1  # what the queued task does
    eventually(lambda: any(m[2] == "RemoteStopTransaction" for m in a1.received))
    assert a1.received[-1][3] == {"transactionId": tx}
    latest = AuthorizationRecord.objects.latest("id")
    assert (latest.trigger, latest.status, latest.reason) == (
        "revocation", "Expired", "card has expired",
    )  # fmt: skip
    assert Command.objects.filter(action="RemoteStopTransaction").count() == 1
    assert tasks.enforce_access(world.site_a.pk) == 0  # the stop is on its way: not again
