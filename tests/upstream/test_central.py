"""The test central system itself: strict about schemas, order and credentials; restartable."""

from __future__ import annotations

import asyncio
import base64

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.ocpp.conftest import LoopThread, eventually
from tests.upstream.central import Central


class Client:
    """A plain library charge point connected to the central system."""

    def __init__(self, central: Central, identity: str, password: str | None = None) -> None:
        self.loop = LoopThread("test-upstream-client")
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{identity}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"

        async def open_() -> ChargePoint:
            ws = await connect(
                f"{central.url}/{identity}", subprotocols=["ocpp1.6"], additional_headers=headers
            )
            cp = ChargePoint(identity, ws, response_timeout=5)
            self.reader = asyncio.ensure_future(cp.start())
            return cp

        self.cp = self.loop.run(open_())

    def call(self, request: object) -> object:
        return self.loop.run(self.cp.call(request, suppress=False))

    def close(self) -> None:
        self.loop.run(self.cp._connection.close())
        self.loop.close()


BOOT = call.BootNotification(charge_point_vendor="V", charge_point_model="M")


@pytest.fixture
def central() -> Central:
    system = Central().start()
    yield system
    system.close()


def test_it_records_in_order_and_flags_calls_before_an_accepted_boot(central: Central) -> None:
    central.state("CP1").boot_plan = ["Rejected"]
    client = Client(central, "CP1")
    try:
        assert client.call(call.Heartbeat()) is not None
        assert client.call(BOOT).status == "Rejected"
        assert client.call(BOOT).status == "Accepted"
        started = client.call(call.StartTransaction(1, "TAG", 0, "2026-01-01T00:00:00Z"))
        assert started.transaction_id == 9001
        client.call(call.StopTransaction(10, "2026-01-01T01:00:00Z", 9001))
        client.call(call.StopTransaction(10, "2026-01-01T01:00:00Z", 9001))
    finally:
        client.close()
    assert central.actions("CP1") == [
        "Heartbeat", "BootNotification", "BootNotification", "StartTransaction",
        "StopTransaction", "StopTransaction",
    ]  # fmt: skip
    assert central.violations == [
        "CP1: Heartbeat before an accepted BootNotification",
        "CP1: second StopTransaction for 9001",
    ]


def test_a_payload_against_the_schema_gets_a_call_error_and_is_a_violation(
    central: Central,
) -> None:
    client = Client(central, "CP2")
    try:
        client.call(BOOT)
        with pytest.raises(OCPPError):
            client.loop.run(
                client.cp.call(call.StatusNotification(1, "NoError", "Sleeping"), suppress=False,
                               skip_schema_validation=True)
            )  # fmt: skip
    finally:
        client.close()
    assert any("StatusNotification refused" in v for v in central.violations)


def test_basic_auth_and_a_restart_on_the_same_port(central: Central) -> None:
    central.passwords["CP3"] = "secret"
    with pytest.raises(InvalidStatus):
        Client(central, "CP3", "wrong")
    port = central.port
    central.stop()
    central.start()
    assert central.port == port
    client = Client(central, "CP3", "secret")
    try:
        assert client.call(BOOT).status == "Accepted"
        eventually(lambda: central.is_connected("CP3"))
        answer = central.call("CP3", call.ClearCache())
    except OCPPError:
        answer = "call error"  # the plain library charge point does not support ClearCache
    finally:
        client.close()
    assert answer == "call error"
    assert central.refused == [("CP3", 401)]
