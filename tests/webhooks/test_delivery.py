"""Webhooks end to end, with a real receiver checking signatures with the docs' example: event ->
consumer -> delivery -> receiver; retries with backoff; a hanging or resetting receiver does not
delay another endpoint; at least once (same webhook-id); disabling after persistent failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from events import consumers, emit
from events.models import Event
from events.serializers import event_json
from portal.redis import get_redis
from tests.conftest import World
from tests.webhooks.conftest import Behaviour, Receiver
from webhooks import sender, services
from webhooks.choices import DeliveryStatus
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db(transaction=True)

Receivers = Callable[..., Receiver]
FAULT = {"status": "Faulted", "error_code": "GroundFailure", "vendor_error_code": "E12",
         "vendor_id": "", "info": "RCD tripped"}  # fmt: skip


def endpoint_for(receiver: Receiver, world: World, **kwargs: Any) -> Endpoint:
    endpoint = services.create_endpoint(world.site_a, url=receiver.url, user=world.alice, **kwargs)
    receiver.secret = endpoint.secret
    return endpoint


def a_fault(world: World, charger: Any = None) -> Event:
    event = emit(
        "connector.faulted",
        charger_id=(charger or world.charger_a1).pk,
        connector_id=1,
        payload=FAULT,
    )
    assert event is not None
    return Event.objects.get(pk=event.pk)


def consume() -> int:
    return consumers.run("webhooks", consumers.CONSUMERS["webhooks"])


def retry_due_now() -> None:
    """Time passes: the retries are due and the endpoints have rested."""
    Delivery.objects.update(next_attempt_at=timezone.now())
    Endpoint.objects.update(busy_until=None)


def test_an_event_reaches_the_receiver_signed_in_the_catalogue_shape(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers()
    endpoint = endpoint_for(receiver, world)
    event = a_fault(world)

    consume()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.event_id, delivery.event_type) == (
        DeliveryStatus.PENDING, event.pk, "connector.faulted"
    )  # fmt: skip

    assert sender.send_due() == 1
    [got] = receiver.received
    assert got.refusal == ""  # the docs' verify() accepted the signature and timestamp
    assert got.event == event_json(event)
    assert got.headers["webhook-id"] == f"msg_{event.pk}_{endpoint.pk}"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("Fusebox-Webhooks/")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        DeliveryStatus.SUCCEEDED, 1, 200
    )  # fmt: skip
    assert delivery.response_excerpt == '{"ok": true}'
    assert delivery.duration_ms is not None
    assert sender.send_due() == 0  # nothing left


def test_deliveries_to_a_receiver_share_one_kept_alive_connection(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers(keep_alive=True)
    endpoint_for(receiver, world)
    for _ in range(5):
        a_fault(world)
    consume()
    assert sender.send_due() == 5
    assert len(receiver.events) == 5
    assert len({got.port for got in receiver.received}) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_a_tampered_or_wrongly_keyed_delivery_fails_the_documented_check(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers()
    endpoint_for(receiver, world)
    receiver.secret = services.rotate_secret(
        Endpoint.objects.create(installation=world.site_b, url=receiver.url)
    )  # fmt: skip  (another endpoint's secret)
    a_fault(world)
    consume()
    sender.send_due()
    [got] = receiver.received
    assert (got.event, got.refusal) == (None, "no valid signature")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.FAILED, 401)


def test_fan_out_follows_event_types_installation_and_enabled_once_per_event(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers()
    everything = endpoint_for(receiver, world)
    sessions_only = endpoint_for(receiver, world, event_types=["session.started"])
    off = endpoint_for(receiver, world)
    services.set_enabled(off, False)
    elsewhere = Endpoint.objects.create(installation=world.site_b, url=receiver.url)

    event = a_fault(world)
    consume()
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [everything.pk]
    # The consumer seeing the same events again (a crash after the fan-out) adds nothing.
    services.fan_out([event])
    assert Delivery.objects.count() == 1
    assert not Delivery.objects.filter(endpoint__in=[sessions_only, off, elsewhere]).exists()


def test_a_500_is_retried_with_backoff_and_the_same_webhook_id(
    world: World, receivers: Receivers
) -> None:
    answers = iter([Behaviour(500, b"database down"), Behaviour(502), Behaviour(204, b"")])
    receiver = receivers(behave=lambda: next(answers))
    endpoint_for(receiver, world)
    a_fault(world)
    consume()

    before = timezone.now()
    sender.send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        DeliveryStatus.FAILED, 1, 500
    )  # fmt: skip
    assert (delivery.last_error, delivery.response_excerpt) == ("HTTP 500", "database down")
    # The first retry is due within 5 s (full jitter).
    assert before <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    Endpoint.objects.update(busy_until=None)
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert sender.send_due() == 0  # not due yet

    retry_due_now()
    sender.send_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert delivery.next_attempt_at <= timezone.now() + timedelta(minutes=5)

    retry_due_now()
    sender.send_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        DeliveryStatus.SUCCEEDED, 3, 204
    )  # fmt: skip
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1


def test_the_backoff_schedule_has_full_jitter_and_an_end() -> None:
    for attempts, step in enumerate(sender.RETRY_SCHEDULE_S, start=1):
        waits = [sender.retry_delay_s(attempts) for _ in range(200)]
        assert all(0 <= w <= step for w in waits)  # type: ignore[operator]
        assert max(waits) > step / 2 > min(waits)  # type: ignore[type-var,operator]
    assert sender.retry_delay_s(len(sender.RETRY_SCHEDULE_S) + 1) is None
    assert sum(sender.RETRY_SCHEDULE_S) / 3600 == pytest.approx(31.6, abs=0.1)


@pytest.mark.parametrize("trouble", ["hang", "reset"])
def test_a_hanging_or_resetting_receiver_does_not_delay_another_endpoint(
    world: World, receivers: Receivers, trouble: str
) -> None:
    bad_behaviour = Behaviour(delay_s=3.0) if trouble == "hang" else Behaviour(reset=True)
    bad = receivers(behave=lambda: bad_behaviour)
    good = receivers()
    bad_endpoint = endpoint_for(bad, world)
    good_endpoint = endpoint_for(good, world)
    # The bad endpoint has the older deliveries: it is served first.
    for _ in range(3):
        a_fault(world)
    consume()

    started = time.monotonic()
    sender.send_due()
    elapsed = time.monotonic() - started
    assert len(good.received) == 3
    assert good.received[-1].at - started < 0.8  # while the other one hung (timeout 1 s)
    assert set(
        Delivery.objects.filter(endpoint=good_endpoint).values_list("status", flat=True)
    ) == {DeliveryStatus.SUCCEEDED}
    # The bad endpoint's turn ended at its first failure, bounded by the timeout.
    assert len(bad.received) == 1
    assert elapsed < 2.5
    failed = Delivery.objects.get(endpoint=bad_endpoint, attempts=1)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.response_code is None
    expected = "timeout after 1 s" if trouble == "hang" else "connection error"
    assert failed.last_error.startswith(expected)
    assert Delivery.objects.filter(endpoint=bad_endpoint, attempts=0).count() == 2
    # It rests a few seconds before its next turn (a receiver that is down is not asked for
    # every waiting delivery in a row); the good one is free at once.
    rest = Endpoint.objects.get(pk=bad_endpoint.pk).busy_until - timezone.now()
    assert timedelta(seconds=3) < rest <= sender.REST_AFTER_FAILURE
    assert Endpoint.objects.get(pk=good_endpoint.pk).busy_until <= timezone.now()
    assert sender.claim_endpoints() == []


def test_the_sender_serves_new_deliveries_while_a_receiver_hangs(
    world: World, receivers: Receivers
) -> None:
    hanging = receivers(behave=lambda: Behaviour(delay_s=3.0))
    good = receivers()
    endpoint_for(hanging, world)
    endpoint_for(good, world)
    a_fault(world)
    consume()

    def send() -> None:
        try:
            sender.run_sender(run_for_s=1.5, poll_s=0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=send)
    thread.start()
    hanging.wait_for(1)
    good.wait_for(1)
    # While the hanging receiver holds its thread, a new event reaches the good one at once.
    a_fault(world, world.charger_a2)
    fanned_out = time.monotonic()
    consume()
    assert len(good.wait_for(2, timeout_s=1.0)) == 2
    assert good.received[1].at - fanned_out < 0.5
    assert len(hanging.received) == 1  # still hanging: the sender did not wait for it
    assert sender.run_sender(run_for_s=1.0) is None  # one sender at a time: it has the work
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert not get_redis().exists(sender.SENDER_LOCK_KEY)  # released
    statuses = dict(Delivery.objects.values_list("endpoint__url", "status").distinct())
    assert statuses == {good.url: DeliveryStatus.SUCCEEDED, hanging.url: DeliveryStatus.FAILED}


def test_finished_deliveries_leave_the_log_after_the_retention(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers()
    endpoint_for(receiver, world)
    a_fault(world)
    a_fault(world)
    consume()
    old, waiting = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=old.pk).update(status=DeliveryStatus.SUCCEEDED)
    later = timezone.now() + timedelta(days=services.DELIVERY_RETENTION_DAYS, minutes=1)
    assert services.prune_deliveries(now=later) == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert services.prune_deliveries(now=later) == 0


def test_redelivery_sends_the_same_webhook_id_again(world: World, receivers: Receivers) -> None:
    receiver = receivers()
    endpoint_for(receiver, world)
    a_fault(world)
    consume()
    sender.send_due()
    delivery = Delivery.objects.get()

    services.redeliver(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.event == second.event


def test_a_delivery_that_spends_every_retry_disables_the_endpoint_and_tells_the_owners(
    world: World, receivers: Receivers
) -> None:
    receiver = receivers(behave=lambda: Behaviour(503))
    endpoint = endpoint_for(receiver, world)
    a_fault(world)
    consume()
    last_retry = len(sender.RETRY_SCHEDULE_S)
    Delivery.objects.update(attempts=last_retry, status=DeliveryStatus.FAILED)

    sender.send_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.GAVE_UP, last_retry + 1)
    assert delivery.next_attempt_at is None
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert f"failed {last_retry + 1} times" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]  # the owner; not the installer, not drivers
    assert receiver.url in message.subject and "Harbour car park" in message.subject
    assert endpoint.disabled_reason in message.body
    assert f"/installations/{world.site_a.pk}/webhooks/" in message.body

    # Disabled: new events are not fanned out to it, nothing is sent.
    a_fault(world)
    consume()
    assert Delivery.objects.count() == 1
    assert sender.send_due() == 0
    # Enabled again: the count of failures starts over.
    services.set_enabled(endpoint, True)
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason, endpoint.consecutive_failures) == (
        True, "", 0
    )  # fmt: skip


def test_failing_for_a_day_disables_the_endpoint(world: World, receivers: Receivers) -> None:
    receiver = receivers(behave=lambda: Behaviour(500))
    endpoint = endpoint_for(receiver, world)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=sender.DISABLE_AFTER_FAILURES - 1,
        failing_since=timezone.now() - timedelta(hours=25),
    )
    a_fault(world)
    consume()
    sender.send_due()
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert f"{sender.DISABLE_AFTER_FAILURES} attempts in a row failed" in endpoint.disabled_reason
    assert len(mail.outbox) == 1


def test_a_success_resets_the_failure_count(world: World, receivers: Receivers) -> None:
    receiver = receivers()
    endpoint = endpoint_for(receiver, world)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=sender.DISABLE_AFTER_FAILURES + 5,
        failing_since=timezone.now() - timedelta(hours=20),
    )
    a_fault(world)
    consume()
    sender.send_due()
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.consecutive_failures, endpoint.failing_since) == (
        True, 0, None
    )  # fmt: skip


def test_the_test_message_is_signed_and_tried_once(world: World, receivers: Receivers) -> None:
    receiver = receivers()
    endpoint = endpoint_for(receiver, world)
    delivery = services.send_test(endpoint)
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 200)
    [got] = receiver.received
    assert got.event is not None
    assert (got.event["type"], got.event["installation"]) == ("webhook.test", world.site_a.pk)
    assert got.headers["webhook-id"].startswith("msg_test_")

    receiver.behave = lambda: Behaviour(500)
    failed = services.send_test(endpoint)
    assert (failed.status, failed.next_attempt_at) == (DeliveryStatus.GAVE_UP, None)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 0


def test_a_url_that_turns_private_is_refused_at_send_time(
    world: World, receivers: Receivers, settings: Any, fake_dns: Any
) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    receiver = receivers()
    endpoint = services.create_endpoint(world.site_a, url="https://hooks.example.com/in")
    fake_dns.names["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding after the check
    a_fault(world)
    consume()
    sender.send_due()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("refused URL: hooks.example.com resolves to 127.0.0.1")
    assert receiver.received == []


def test_a_sender_whose_time_is_up_hands_over_to_the_next(
    world: World, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webhooks import tasks

    receiver = receivers()
    endpoint_for(receiver, world)
    a_fault(world)
    consume()
    handed_over: list[bool] = []
    monkeypatch.setattr(tasks, "RUN_FOR_S", 0.0)
    monkeypatch.setattr(tasks.send_due_deliveries, "delay", lambda: handed_over.append(True))
    assert tasks.send_due_deliveries() == 0
    assert handed_over == [True] and sender.work_waiting()

    sender.send_due()
    assert not sender.work_waiting()
    assert tasks.send_due_deliveries() == 0
    assert handed_over == [True]  # nothing left: no next one


def test_an_endpoint_deleted_while_it_is_served_ends_only_its_own_turn(
    world: World, receivers: Receivers, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    gone_receiver, other_receiver = receivers(behave=lambda: Behaviour(500)), receivers()
    gone = endpoint_for(gone_receiver, world)
    other = endpoint_for(other_receiver, world)
    a_fault(world)
    consume()
    real_post = sender.post

    def post_then_delete(url: str, *args: Any, **kwargs: Any) -> Any:
        outcome = real_post(url, *args, **kwargs)
        if url == gone.url:
            Endpoint.objects.filter(pk=gone.pk).delete()  # its owner deletes it meanwhile
        return outcome

    monkeypatch.setattr(sender, "post", post_then_delete)
    with caplog.at_level("ERROR", logger="webhooks.sender"):
        sender.send_due()  # recording the failure finds no row: logged, not raised
    assert f"Sending to webhook endpoint {gone.pk} failed" in caplog.text
    assert not Endpoint.objects.filter(pk=gone.pk).exists()
    assert len(gone_receiver.received) == 1 and len(other_receiver.events) == 1
    assert Delivery.objects.get(endpoint=other).status == DeliveryStatus.SUCCEEDED


def test_the_disabled_e_mail_is_retried_when_the_mail_server_fails(
    world: World, receivers: Receivers, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from webhooks import tasks

    receiver = receivers(behave=lambda: Behaviour(500))
    endpoint = endpoint_for(receiver, world)
    a_fault(world)
    consume()
    Delivery.objects.update(attempts=len(sender.RETRY_SCHEDULE_S), status=DeliveryStatus.FAILED)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        tasks.email_owners_disabled, "apply_async", lambda args, countdown: queued.append(args)
    )
    sender.send_due()
    endpoint.refresh_from_db()
    assert not endpoint.enabled  # disabled all the same
    assert queued == [(endpoint.pk,)]  # and the e-mail is tried again later

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert tasks.email_owners_disabled(endpoint.pk) == 1  # the retry, once mail works
    assert mail.outbox[0].to == ["alice@example.com"]


def test_a_sender_with_nothing_due_ends_at_once(world: World) -> None:
    """The beat calls the sender every few seconds: with nothing due it must not hold a worker
    process for its linger time."""
    started = time.monotonic()
    assert sender.run_sender(run_for_s=10.0, linger_s=3.0) == 0
    assert time.monotonic() - started < 1.0
    assert not get_redis().exists(sender.SENDER_LOCK_KEY)
