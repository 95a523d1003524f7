"""The durable queue: Start/StopTransaction and transaction MeterValues delivered in order with
upstream's transaction ids, across an upstream outage and a bridge restart; inferred stops
(docs/upstream.md, "Transaction ids", "When upstream is down")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth_access.models import ChargeCard
from chargers.models import ChargeSession
from tests.conftest import World
from tests.ocpp.conftest import (
    BridgeHandle,
    Chargers,
    TestCharger,
    eventually,
    start_bridge,
    stop_bridge,
)
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream import outbox
from upstream.models import UpstreamMessage, UpstreamTransaction

T0 = datetime(2026, 2, 1, 18, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meter(tx: int, wh: int, minutes: float) -> dict:
    return {
        "connectorId": 1,
        "transactionId": tx,
        "meterValue": [{"timestamp": at(minutes), "sampledValue": [{"value": str(wh)}]}],
    }


@pytest.fixture
def card(world: World) -> ChargeCard:
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")


@pytest.fixture
def a1(world: World, central: Central, chargers: Chargers, card: ChargeCard) -> TestCharger:
    bridge_to(central, world.charger_a1)
    charger = chargers.connect(world.charger_a1, accepted=False)
    boot(charger)
    eventually(lambda: central.of(world.charger_a1.ocpp_identity, "BootNotification"))
    return charger


def _start(a1: TestCharger, minutes: float = 0, wh: int = 1000) -> int:
    answer = a1.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "DORA-1", "meterStart": wh, "timestamp": at(minutes)},
    )
    assert answer["idTagInfo"]["status"] == "Accepted"
    return int(answer["transactionId"])


def _delivered(world: World) -> bool:
    return not UpstreamMessage.objects.filter(
        charger=world.charger_a1, sent_at__isnull=True
    ).exists()


def test_upstream_killed_mid_session_gets_the_rest_in_order_with_its_ids(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    a1.result("MeterValues", meter(tx, 1500, 5))
    eventually(lambda: central.of(identity, "MeterValues"))
    central.stop()  # killed in the middle of the session
    a1.result("MeterValues", meter(tx, 2000, 10))
    a1.result("MeterValues", meter(tx, 2500, 15))
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 3000, "timestamp": at(20)})
    a1.settle()
    assert UpstreamMessage.objects.filter(sent_at__isnull=True).count() == 3
    central.start()
    eventually(lambda: central.of(identity, "StopTransaction"), timeout=10)
    sent = central.of(identity, "StartTransaction", "MeterValues", "StopTransaction")
    assert [m.action for m in sent] == [
        "StartTransaction", "MeterValues", "MeterValues", "MeterValues", "StopTransaction",
    ]  # fmt: skip
    upstream_tx = UpstreamTransaction.objects.get(session_id=tx).upstream_transaction_id
    assert upstream_tx == 9001 != tx
    assert {m.payload["transactionId"] for m in sent[1:]} == {upstream_tx}
    assert [m.payload["meterValue"][0]["sampledValue"][0]["value"] for m in sent[1:4]] == [
        "1500", "2000", "2500",
    ]  # fmt: skip
    assert sent[-1].payload["meterStop"] == 3000
    assert central.violations == []
    eventually(lambda: _delivered(world))


def test_upstream_down_for_the_whole_session_receives_start_meters_and_stop_in_order(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    central.stop()
    tx = _start(a1)
    a1.result("MeterValues", meter(tx, 1800, 10))
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 2600, "timestamp": at(30)})
    a1.settle()
    central.start()
    eventually(lambda: central.of(identity, "StopTransaction"), timeout=10)
    sent = central.of(identity, "StartTransaction", "MeterValues", "StopTransaction")
    assert [m.action for m in sent] == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert sent[0].payload == {
        "connectorId": 1, "idTag": "DORA-1", "meterStart": 1000, "timestamp": at(0),
    }  # fmt: skip
    assert sent[1].payload["transactionId"] == sent[2].payload["transactionId"] == 9001
    session = ChargeSession.objects.get(pk=tx)
    # Fusebox's history and upstream agree on energy and times.
    assert (session.meter_stop_wh - session.meter_start_wh) == (
        sent[2].payload["meterStop"] - sent[0].payload["meterStart"]
    )
    assert sent[2].payload["timestamp"] == at(30)
    assert central.violations == []


def test_meter_values_while_upstream_is_up_are_sent_from_memory_in_order_then_marked(
    world: World, central: Central, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path: a transaction MeterValues written to the queue is handed to the link and
    sent without reading the queue back; a StopTransaction after them reads it, in order."""
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: _delivered(world))  # the Start answered: upstream's id is known
    reads: list[tuple] = []
    read = outbox.pending

    def counted(*args: object) -> list[outbox.Pending]:
        reads.append(args)
        return read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "pending", counted)
    for n, wh in enumerate([1500, 2000, 2500]):
        a1.result("MeterValues", meter(tx, wh, 5 * (n + 1)))
    eventually(lambda: len(central.of(identity, "MeterValues")) == 3)
    eventually(lambda: _delivered(world))
    assert reads == []  # none read back
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 3000, "timestamp": at(20)})
    eventually(lambda: central.of(identity, "StopTransaction"))
    assert reads  # a Start or Stop is read from the queue
    sent = central.of(identity, "MeterValues", "StopTransaction")
    assert [m.action for m in sent] == ["MeterValues"] * 3 + ["StopTransaction"]
    assert [m.payload["meterValue"][0]["sampledValue"][0]["value"] for m in sent[:3]] == [
        "1500", "2000", "2500",
    ]  # fmt: skip
    assert {m.payload["transactionId"] for m in sent} == {9001}
    eventually(lambda: _delivered(world))
    assert UpstreamMessage.objects.filter(action="MeterValues", answer={}).count() == 3
    assert central.violations == []


def test_a_meter_values_refused_on_the_hot_path_is_tried_again_before_the_next(
    world: World, central: Central, a1: TestCharger
) -> None:
    """Upstream refuses a MeterValues sent from memory: it is tried again (read back from the
    queue) before the MeterValues behind it, and each is delivered once."""
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: _delivered(world))  # upstream's id known: the next go from memory
    central.refuse = {"MeterValues": 1}
    a1.result("MeterValues", meter(tx, 1500, 5))
    a1.result("MeterValues", meter(tx, 2000, 10))
    eventually(lambda: len(central.of(identity, "MeterValues")) >= 3, timeout=10)
    eventually(lambda: _delivered(world))
    sent = central.of(identity, "MeterValues")
    registers = [m.payload["meterValue"][0]["sampledValue"][0]["value"] for m in sent]
    assert registers == ["1500", "1500", "2000"]  # the refused one first, then the next, once
    assert {m.payload["transactionId"] for m in sent} == {9001}
    assert (
        UpstreamMessage.objects.get(payload__meterValue__0__sampledValue__0__value="1500").attempts
        == 1
    )
    assert central.violations == []


def test_upstream_gone_while_a_message_waits_for_its_answer_is_back_within_seconds(
    world: World, central: Central, a1: TestCharger
) -> None:
    """Upstream drops the connection while a queued message waits for its answer: the link
    notices at once (not at the next minute's poll), reconnects when upstream is back, and
    delivers the message; time without a connection never counts as a failed attempt."""
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: _delivered(world))
    central.silent = {"MeterValues"}  # a hung upstream
    a1.result("MeterValues", meter(tx, 1500, 5))
    eventually(lambda: central.of(identity, "MeterValues"))
    central.stop()
    central.silent = set()
    central.start()
    eventually(lambda: len(central.of(identity, "BootNotification")) == 2, timeout=10)
    eventually(lambda: _delivered(world), timeout=10)
    message = UpstreamMessage.objects.get(action="MeterValues")
    assert (message.attempts, message.failed) == (0, False)
    assert central.of(identity, "MeterValues")[-1].payload["transactionId"] == 9001
    assert central.violations == []


def test_back_to_back_sessions_reach_upstream_once_each_in_order_with_their_ids(
    world: World, central: Central, a1: TestCharger
) -> None:
    """Meter values right behind a StartTransaction upstream has not answered yet, and a new
    session right behind a Stop: each message once, in the charger's order, each session's
    messages with the id upstream gave it."""
    identity = world.charger_a1.ocpp_identity
    wh, expected = 1000, []
    for n in range(4):
        tx = _start(a1, minutes=30 * n, wh=wh)
        expected.append(("StartTransaction", None))
        for k in range(1, 3):
            a1.result("MeterValues", meter(tx, wh + 100 * k, 30 * n + 5 * k))
            expected.append(("MeterValues", 9001 + n))
        wh += 300
        stop = {"transactionId": tx, "meterStop": wh, "timestamp": at(30 * n + 20)}
        a1.result("StopTransaction", stop)
        expected.append(("StopTransaction", 9001 + n))
    eventually(lambda: len(central.of(identity, "StopTransaction")) == 4, timeout=10)
    eventually(lambda: _delivered(world))
    sent = central.of(identity, "StartTransaction", "MeterValues", "StopTransaction")
    assert [(m.action, m.payload.get("transactionId")) for m in sent] == expected
    registers = [
        int(m.payload["meterValue"][0]["sampledValue"][0]["value"])
        for m in sent
        if m.action == "MeterValues"
    ]
    assert registers == sorted(registers) and len(set(registers)) == 8
    assert central.violations == []


def test_the_queue_survives_a_bridge_restart(
    world: World, central: Central, card: ChargeCard
) -> None:
    identity = world.charger_a1.ocpp_identity
    bridge_to(central, world.charger_a1)
    central.stop()
    first = start_bridge()
    pool = Chargers(first)
    try:
        a1 = pool.connect(world.charger_a1, accepted=False)
        boot(a1)
        tx = _start(a1)
        a1.result("StopTransaction", {"transactionId": tx, "meterStop": 1400, "timestamp": at(9)})
        a1.settle()
    finally:
        pool.close()
        stop_bridge(first)
    assert UpstreamMessage.objects.filter(sent_at__isnull=True).count() == 2
    central.start()
    second: BridgeHandle = start_bridge()
    pool = Chargers(second)
    try:
        a1 = pool.connect(world.charger_a1, accepted=False)
        boot(a1)
        eventually(lambda: central.of(identity, "StopTransaction"), timeout=10)
    finally:
        pool.close()
        stop_bridge(second)
    assert central.actions(identity)[:1] == ["BootNotification"]
    sent = central.of(identity, "StartTransaction", "StopTransaction")
    assert [m.action for m in sent] == ["StartTransaction", "StopTransaction"]
    assert sent[1].payload["transactionId"] == 9001
    assert central.violations == []


def test_an_inferred_stop_is_sent_and_a_late_real_stop_is_not_sent_again(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    tx = _start(a1)
    eventually(lambda: central.of(identity, "StartTransaction"))
    boot(a1)  # the charger rebooted: Fusebox closes the session (Reboot)
    stops = eventually(lambda: central.of(identity, "StopTransaction"), timeout=10)
    assert stops[0].payload["reason"] == "Reboot"
    assert stops[0].payload["transactionId"] == 9001
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 1900, "timestamp": at(40)})
    a1.settle()
    eventually(lambda: _delivered(world))
    assert len(central.of(identity, "StopTransaction")) == 1
    assert central.violations == []


def test_a_late_real_stop_replaces_the_inferred_one_still_queued(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    central.stop()
    tx = _start(a1)
    boot(a1)  # reboot: inferred stop queued while upstream is away
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 1900, "timestamp": at(40)})
    a1.settle()
    central.start()
    stops = eventually(lambda: central.of(identity, "StopTransaction"), timeout=10)
    eventually(lambda: _delivered(world))
    assert len(central.of(identity, "StopTransaction")) == 1
    assert stops[0].payload["meterStop"] == 1900
    assert central.violations == []


def test_an_unbridged_charger_queues_nothing(
    world: World, chargers: Chargers, card: ChargeCard
) -> None:
    a1 = chargers.connect(world.charger_a1)
    tx = _start(a1)
    a1.result("MeterValues", meter(tx, 1500, 5))
    a1.result("StopTransaction", {"transactionId": tx, "meterStop": 1900, "timestamp": at(40)})
    a1.settle()
    assert not UpstreamMessage.objects.exists()


def test_an_id_tag_jsonb_cannot_hold_is_queued_cleaned_and_the_session_still_starts(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    start = {"connectorId": 1, "idTag": "AB\u0000C", "meterStart": 5, "timestamp": at(0)}
    answer = a1.result("StartTransaction", start)
    assert ChargeSession.objects.filter(pk=answer["transactionId"]).exists()
    sent = eventually(lambda: central.of(identity, "StartTransaction"))
    assert sent[0].payload["idTag"] == "AB\ufffdC"
    assert central.violations == []
