"""Authorize requests that arrive together are decided together (``ocpp_bridge.batching``):
while one batch is on the database, the requests made meanwhile gather for the next; each
charger still gets its own answer, and a failure stays with its own request: a charger deleted
meanwhile, an idTag no database can hold (a batch that fails altogether:
tests/ocpp/test_errors.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from auth_access import checks
from auth_access.checks import Asked, Check
from auth_access.choices import AuthorizationTrigger
from auth_access.models import AuthorizationRecord
from chargers.models import Charger, ChargeSession
from ocpp_bridge import persistence
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, TestCharger

pytestmark = pytest.mark.usefixtures("transactional_db")


def send_authorize(charger: TestCharger, id_tag: str) -> None:
    """Send without waiting for the answer (``answer()`` reads it)."""
    frame = json.dumps([2, f"auth-{id_tag}", "Authorize", {"idTag": id_tag}])
    charger.loop.run(charger.websocket.send(frame))


def answer(charger: TestCharger) -> list[Any]:
    return charger.loop.run(asyncio.wait_for(charger.replies.get(), 5), 6)


def status(reply: list[Any]) -> str:
    assert reply[0] == 3, reply
    return str(reply[2]["idTagInfo"]["status"])


@pytest.mark.usefixtures("cards")
def test_requests_made_while_a_batch_is_decided_share_the_next_one(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    a1, a2, b1 = (
        chargers.connect(c) for c in (world.charger_a1, world.charger_a2, world.charger_b1)
    )
    decisions = bridge.bridge.decisions
    decide = decisions.decide
    batches: list[list[tuple[int, str]]] = []
    gate = asyncio.Event()

    async def held(asked: list[Asked]) -> list[Check | BaseException]:
        batches.append([(a.charger_id, a.id_tag) for a in asked])
        await gate.wait()  # the first batch takes a while: the others gather meanwhile
        return list(await decide(asked))

    decisions.decide = held
    try:
        send_authorize(a1, "DORA-1")
        bridge.run(_until(lambda: batches))
        send_authorize(a2, "DAVE-1")
        send_authorize(b1, "OSCAR-1")
        bridge.run(_until(lambda: len(decisions._waiting) == 2))
        bridge.run(_set(gate))
        replies = [answer(a1), answer(a2), answer(b1)]
    finally:
        decisions.decide = decide
    assert [status(r) for r in replies] == ["Accepted", "Invalid", "Accepted"]
    assert batches == [
        [(world.charger_a1.pk, "DORA-1")],
        [(world.charger_a2.pk, "DAVE-1"), (world.charger_b1.pk, "OSCAR-1")],
    ]
    assert AuthorizationRecord.objects.count() == 3


@pytest.mark.usefixtures("cards")
def test_a_charger_deleted_meanwhile_fails_only_its_own_request(
    world: World, bridge: BridgeHandle
) -> None:
    trigger = AuthorizationTrigger.AUTHORIZE
    asked = [Asked(999_999, "DORA-1", trigger), Asked(world.charger_a2.pk, "DORA-1", trigger)]
    answers = bridge.run(bridge.bridge.decisions.decide(asked))
    assert isinstance(answers[0], Charger.DoesNotExist)
    assert isinstance(answers[1], Check) and answers[1].local.accepted
    assert AuthorizationRecord.objects.get().charger == world.charger_a2


async def _set(event: asyncio.Event) -> None:
    event.set()


async def _until(predicate: Any, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("cards")
def test_a_charger_deleted_before_its_record_fails_only_its_own_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's records fail together (a deferred foreign key at COMMIT): each request is
    then decided alone, and only the one whose charger is gone fails."""
    read = checks.situations

    def read_then_delete(asked: Any, now: Any, **options: Any) -> Any:
        found = read(asked, now, **options)
        if len(asked) > 1:
            Charger.objects.filter(pk=world.charger_a2.pk).delete()
        return found

    monkeypatch.setattr(checks, "situations", read_then_delete)
    trigger = AuthorizationTrigger.AUTHORIZE
    answers = persistence.authorize_id_tags(
        [
            Asked(world.charger_a1.pk, "DORA-1", trigger),
            Asked(world.charger_a2.pk, "DORA-1", trigger),
            Asked(world.charger_b1.pk, "OSCAR-1", trigger),
        ]
    )
    assert isinstance(answers[0], Check) and answers[0].local.accepted
    assert isinstance(answers[1], Charger.DoesNotExist)
    assert isinstance(answers[2], Check)
    assert sorted(AuthorizationRecord.objects.values_list("charger_id", flat=True)) == sorted(
        [world.charger_a1.pk, world.charger_b1.pk]
    )


@pytest.mark.usefixtures("cards")
@pytest.mark.parametrize("id_tag", ["EVIL\u0000", "BAD\ud800"])
def test_an_idtag_no_database_can_hold_is_refused_at_the_edge(
    world: World, chargers: Chargers, bridge: BridgeHandle, id_tag: str
) -> None:
    """A NUL or a lone surrogate (valid JSON escapes) would make the batch's statement fail for
    every charger in it: the sender gets PropertyConstraintViolation, the others their answer."""
    a1, b1 = chargers.connect(world.charger_a1), chargers.connect(world.charger_b1)
    frame = json.dumps([2, "bad", "Authorize", {"idTag": id_tag}])
    a1.loop.run(a1.websocket.send(frame))
    send_authorize(b1, "OSCAR-1")
    assert answer(a1)[:3] == [4, "bad", "PropertyConstraintViolation"]
    assert status(answer(b1)) == "Accepted"
    assert status(a1.call("Authorize", {"idTag": "DORA-1"})) == "Accepted"  # a1 carries on


@pytest.mark.usefixtures("cards")
def test_a_transaction_with_such_an_idtag_is_stored_with_the_idtag_cleaned(
    world: World, chargers: Chargers
) -> None:
    """A StartTransaction must be stored whatever its idTag (the charger holds a transaction
    now): the characters are replaced by U+FFFD, which no card number contains."""
    a1 = chargers.connect(world.charger_a1)
    start = {"connectorId": 1, "idTag": "EVIL\u0000", "meterStart": 0,
             "timestamp": "2026-02-01T18:00:00Z"}  # fmt: skip
    started = a1.result("StartTransaction", start)
    assert started["idTagInfo"]["status"] == "Invalid"  # site A is locked: an unknown card
    stop = {"transactionId": started["transactionId"], "meterStop": 10,
            "timestamp": "2026-02-01T18:05:00Z", "idTag": "BAD\ud800"}  # fmt: skip
    assert a1.result("StopTransaction", stop) == {"idTagInfo": {"status": "Invalid"}}
    session = ChargeSession.objects.get(pk=started["transactionId"])
    assert session.id_tag == "EVIL\ufffd" and session.stopped_at is not None
