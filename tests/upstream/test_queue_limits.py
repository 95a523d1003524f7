"""A transaction message upstream refuses or never answers is tried again after a pause, in
its place in the queue, and given up after ``outbox.MAX_ATTEMPTS`` attempts: marked failed,
shown in the charger's upstream status, and the queue behind it goes on (docs/upstream.md,
"When upstream is down")."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ocpp_bridge.upstream.link import Link
from tests.conftest import World, api_as
from tests.ocpp.conftest import TestCharger, eventually
from tests.upstream import test_queue
from tests.upstream.central import Central
from tests.upstream.test_queue import _delivered, _start, meter
from upstream import outbox, services
from upstream.models import UpstreamMessage

card, a1 = test_queue.card, test_queue.a1  # the fixtures of the queue's tests


def test_a_message_upstream_never_answers_is_given_up_and_the_queue_goes_on(
    world: World, central: Central, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Link, "call_timeout_s", 0.5)
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: central.of(identity, "StartTransaction"))
    central.silent = {"MeterValues"}
    a1.result("MeterValues", meter(tx, 1500, 5))
    a1.result(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 3000, "timestamp": "2026-02-01T18:20:00Z"},
    )
    eventually(lambda: _delivered(world), timeout=15)
    sent = central.of(identity, "MeterValues", "StopTransaction")
    assert [m.action for m in sent] == ["MeterValues"] * outbox.MAX_ATTEMPTS + ["StopTransaction"]
    given_up = UpstreamMessage.objects.get(action="MeterValues")
    assert given_up.failed and given_up.attempts == outbox.MAX_ATTEMPTS
    assert given_up.answer == {"error": "no answer within 0.5 s (3 attempts)"}
    assert not UpstreamMessage.objects.get(action="StopTransaction").failed
    (status,) = services.charger_statuses([world.charger_a1])
    assert (status.queued, status.failed) == (0, 1)
    assert status.last_failure == "MeterValues: no answer within 0.5 s (3 attempts)"
    shown = api_as(world.alice).get(f"/api/v1/chargers/{world.charger_a1.pk}/upstream/status/")
    assert (shown.json()["failed"], shown.json()["last_failure"]) == (1, status.last_failure)
    browser = Client()
    browser.force_login(world.alice)
    page = browser.get(reverse("chargers:detail", args=[world.charger_a1.pk]))
    assert page.status_code == 200 and "1 failed" in page.content.decode()


def test_a_refused_message_is_tried_again_before_anything_behind_it(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: central.of(identity, "StartTransaction"))
    central.refuse = {"MeterValues": 2}  # refused twice, then taken
    a1.result("MeterValues", meter(tx, 1500, 5))
    a1.result("MeterValues", meter(tx, 2000, 10))
    a1.result(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 3000, "timestamp": "2026-02-01T18:20:00Z"},
    )
    eventually(lambda: _delivered(world), timeout=15)
    sent = central.of(identity, "MeterValues", "StopTransaction")
    registers = [
        m.payload["meterValue"][0]["sampledValue"][0]["value"]
        if m.action == "MeterValues"
        else "stop"
        for m in sent
    ]
    assert registers == ["1500", "1500", "1500", "2000", "stop"]  # in order, never overtaken
    assert not UpstreamMessage.objects.filter(failed=True).exists()
    assert central.violations == []
