"""The external authorizer against a real local HTTP server, through real OCPP websockets:
accept, refuse, timeout (both fallback policies), errors, reply signatures, replays; and the
bridge's database threads never wait for it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from auth_access.choices import FallbackPolicy
from auth_access.models import AccessPolicy, AuthorizationRecord, ChargeCard
from chargers.models import ChargeSession
from chargers.services import register_charger
from tests.access.authorizer import SECRET, Authorizer, Reply
from tests.access.conftest import FUTURE
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger, eventually

pytestmark = pytest.mark.usefixtures("transactional_db")
START = {"connectorId": 1, "meterStart": 100, "timestamp": "2026-02-01T18:00:00Z"}


@pytest.fixture
def authorizer(local_authorizers: None) -> Iterator[Authorizer]:
    server = Authorizer().start()
    try:
        yield server
    finally:
        server.stop()


def use_external(
    world: World,
    url: str,
    *,
    deadline_ms: int = 2000,
    fallback: FallbackPolicy = FallbackPolicy.ACCEPT_KNOWN,
    **extra: Any,
) -> None:
    AccessPolicy.objects.filter(installation=world.site_a).update(
        external_enabled=True,
        external_url=url,
        external_secret=SECRET,
        external_deadline_ms=deadline_ms,
        external_fallback=fallback,
        **extra,
    )


def authorize(charger: TestCharger, id_tag: str) -> dict:
    return charger.result("Authorize", {"idTag": id_tag})["idTagInfo"]


def last_record(a1: TestCharger) -> AuthorizationRecord:
    a1.settle()  # the record of an external decision is written behind the answer
    return AuthorizationRecord.objects.latest("id")


def test_the_authorizer_accepts_a_card_fusebox_does_not_know(
    world: World, a1: TestCharger, authorizer: Authorizer
) -> None:
    use_external(world, authorizer.url)
    authorizer.decide = lambda p: Reply({"status": "Accepted", "expiry": "2030-06-01T00:00:00Z"})
    assert authorize(a1, "roaming-7") == {
        "status": "Accepted",
        "expiryDate": "2030-06-01T00:00:00Z",
    }
    [payload] = authorizer.accepted  # signature, timestamp and nonce checked by the verifier
    assert {k: payload[k] for k in ["type", "connector", "id_tag", "card", "user"]} == {
        "type": "authorize", "connector": None, "id_tag": "ROAMING-7", "card": None, "user": None,
    }  # fmt: skip
    assert payload["installation"] == {"id": world.site_a.pk, "name": "Harbour car park"}
    assert payload["charger"] == {"id": world.charger_a1.pk, "identity": "HARBOUR-A1", "name": "A1"}
    assert payload["local_decision"] == {"status": "Invalid", "reason": "unknown card"}
    assert len(payload["nonce"]) == 32 and payload["timestamp"].endswith("Z")
    record = last_record(a1)
    assert (record.status, record.source, record.reason, record.trigger) == (
        "Accepted", "external", "external authorizer: Accepted", "authorize",
    )  # fmt: skip
    assert record.latency_ms > 0


def test_the_authorizer_refuses_a_card_fusebox_would_accept(
    world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
) -> None:
    use_external(world, authorizer.url)
    authorizer.decide = lambda p: Reply({"status": "Blocked"})
    assert authorize(a1, "DORA-1") == {"status": "Blocked"}
    [payload] = authorizer.accepted
    assert payload["card"] == {
        "id": cards["dora"].pk, "name": "", "is_blocked": False, "expires_at": FUTURE.isoformat(),
    }  # fmt: skip
    assert payload["user"] == {
        "id": world.dora.pk,
        "email": "dora@example.com",
        "name": "Dora Driver",
    }
    assert payload["local_decision"]["status"] == "Accepted"
    record = last_record(a1)
    assert (record.status, record.source, record.user, record.card) == (
        "Blocked", "external", world.dora, cards["dora"],
    )  # fmt: skip


def test_start_transaction_asks_too_and_the_session_is_the_card_holders(
    world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
) -> None:
    use_external(world, authorizer.url)
    reply = a1.result("StartTransaction", {**START, "idTag": "DAVE-1"})
    session = ChargeSession.objects.get()
    assert reply == {"transactionId": session.pk, "idTagInfo": {"status": "Accepted"}}
    assert session.user == world.dave
    [payload] = authorizer.accepted
    assert (payload["type"], payload["connector"]) == ("start", 1)
    assert last_record(a1).trigger == "start"


def test_open_chargers_and_stop_transactions_do_not_ask(
    world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
) -> None:
    use_external(world, authorizer.url)
    tx = a1.result("StartTransaction", {**START, "idTag": "DAVE-1"})["transactionId"]
    stop = {"transactionId": tx, "meterStop": 500, "timestamp": "2026-02-01T19:00:00Z"}
    a1.result("StopTransaction", {**stop, "idTag": "DAVE-1"})
    world.charger_a1.authorization_mode = "open"
    world.charger_a1.save()
    assert authorize(a1, "ANYONE") == {"status": "Accepted"}
    assert [p["type"] for p in authorizer.accepted] == ["start"]


class TestFailuresAndFallback:
    def test_a_timeout_falls_back_to_local_decisions(
        self, world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
    ) -> None:
        use_external(world, authorizer.url, deadline_ms=300)
        authorizer.decide = lambda p: Reply(delay_s=1.5)
        started = time.monotonic()
        assert authorize(a1, "DORA-1")["status"] == "Accepted"
        assert time.monotonic() - started < 1.0  # the deadline, not the authorizer's 1.5 s
        assert authorize(a1, "NOBODY") == {"status": "Invalid"}
        a1.settle()
        reasons = list(AuthorizationRecord.objects.order_by("id").values_list("source", "reason"))
        assert reasons == [
            (
                "fallback",
                "external authorizer failed (timeout): may charge on the whole installation",
            ),
            ("fallback", "external authorizer failed (timeout): unknown card"),
        ]

    def test_a_timeout_refuses_everyone_when_the_policy_says_so(
        self, world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
    ) -> None:
        use_external(world, authorizer.url, deadline_ms=300, fallback=FallbackPolicy.REFUSE)
        authorizer.decide = lambda p: Reply(delay_s=1.5)
        assert authorize(a1, "DORA-1") == {"status": "Invalid"}
        record = last_record(a1)
        assert (record.source, record.reason, record.user) == (
            "fallback", "external authorizer failed (timeout): refused", world.dora,
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("reply", "error"),
        [
            (Reply({"error": "oops"}, status_code=500), "HTTP 500"),
            (Reply({"status": "Accepted"}, status_code=302), "HTTP 302"),
            (Reply(b"<html>maintenance</html>"), "answer is not JSON"),
            (Reply({"status": "Perhaps"}), "unknown status 'Perhaps'"),
            (Reply({"status": "Accepted", "expiry": "tomorrow"}), "bad expiry"),
        ],
        ids=["500", "redirect", "html", "unknown-status", "bad-expiry"],
    )
    def test_errors_and_bad_answers_fall_back(
        self,
        world: World,
        a1: TestCharger,
        authorizer: Authorizer,
        cards: dict[str, ChargeCard],
        reply: Reply,
        error: str,
    ) -> None:
        use_external(world, authorizer.url)
        authorizer.decide = lambda p: reply
        assert authorize(a1, "DAVE-1") == {"status": "Accepted"}
        record = last_record(a1)
        assert (record.source, record.reason) == (
            "fallback", f"external authorizer failed ({error}): may charge on this charger",
        )  # fmt: skip

    def test_nobody_listening_falls_back(
        self, world: World, a1: TestCharger, authorizer: Authorizer, cards: dict[str, ChargeCard]
    ) -> None:
        url = authorizer.url
        authorizer.stop()
        use_external(world, url, fallback=FallbackPolicy.REFUSE)
        assert authorize(a1, "DAVE-1") == {"status": "Invalid"}
        assert last_record(a1).reason.startswith("external authorizer failed (connection error")


class TestReplySignatures:
    def test_a_signed_answer_is_taken(
        self, world: World, a1: TestCharger, authorizer: Authorizer
    ) -> None:
        use_external(world, authorizer.url, external_require_signed_reply=True)
        authorizer.decide = lambda p: Reply({"status": "Accepted"}, signed=True)
        assert authorize(a1, "ROAMING-1") == {"status": "Accepted"}
        assert last_record(a1).source == "external"

    def test_an_unsigned_answer_is_a_failure_when_signatures_are_required(
        self, world: World, a1: TestCharger, authorizer: Authorizer
    ) -> None:
        use_external(world, authorizer.url, external_require_signed_reply=True)
        assert authorize(a1, "ROAMING-1") == {"status": "Invalid"}
        assert last_record(a1).reason == (
            "external authorizer failed (bad answer signature): unknown card"
        )

    def test_a_wrongly_signed_answer_is_a_failure_even_when_not_required(
        self, world: World, a1: TestCharger, authorizer: Authorizer
    ) -> None:
        use_external(world, authorizer.url)
        authorizer.secret = "the-authorizer-uses-another-key"
        authorizer.decide = lambda p: Reply({"status": "Accepted"}, signed=True)
        assert authorize(a1, "ROAMING-1") == {"status": "Invalid"}
        # the authorizer itself refused our request (wrong key): 401, a failure too
        assert authorizer.received[0].refusal == "signature does not match"
        assert last_record(a1).reason == "external authorizer failed (HTTP 401): unknown card"


def test_the_receivers_verifier_refuses_replays_and_tampered_bodies(
    world: World, a1: TestCharger, authorizer: Authorizer
) -> None:
    use_external(world, authorizer.url)
    authorize(a1, "ROAMING-1")
    original = authorizer.received[0]

    def post(body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(authorizer.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert post(original.body, original.headers) == 401  # the same request again
    tampered = original.body.replace(b"ROAMING-1", b"ROAMING-2")
    assert post(tampered, original.headers) == 401
    stale = {**original.headers, "X-Fusebox-Timestamp": str(int(time.time()) - 3600)}
    assert post(original.body, stale) == 401
    assert [r.refusal for r in authorizer.received[1:]] == [
        "nonce already seen (replayed request)",
        "signature does not match",
        "timestamp outside the tolerance (old or replayed request)",
    ]


def test_waiting_for_the_authorizer_holds_no_database_thread(
    world: World, chargers: Chargers, authorizer: Authorizer, cards: dict[str, ChargeCard]
) -> None:
    """Five chargers wait 1.5 s for a slow authorizer at once (the bridge has 3 database
    threads); a charger of another installation is answered meanwhile without waiting."""
    use_external(world, authorizer.url, deadline_ms=3000)
    authorizer.decide = lambda p: Reply(delay_s=1.5)
    slow = [chargers.connect(world.charger_a1), chargers.connect(world.charger_a2)]
    for number in range(3):
        extra, _ = register_charger(
            circuit=world.main_a, name=f"A{number + 3}", ocpp_identity=f"HARBOUR-X{number}"
        )
        slow.append(chargers.connect(extra))
    b1 = chargers.connect(world.charger_b1)
    with ThreadPoolExecutor(len(slow)) as pool:
        waiting = [pool.submit(authorize, charger, "DORA-1") for charger in slow]
        eventually(lambda: len(authorizer.received) == 5)  # all five wait for the authorizer
        started = time.monotonic()
        assert authorize(b1, "OSCAR-1") == {"status": "Accepted"}
        assert time.monotonic() - started < 0.5
        assert not any(future.done() for future in waiting)
        assert [future.result(timeout=10)["status"] for future in waiting] == ["Accepted"] * 5
