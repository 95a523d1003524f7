"""The link's delivery loop on its own (``delivery.QueueDelivery``), with a stand-in for the
connection and the database: interleavings the end-to-end tests cannot pin down."""

from __future__ import annotations

import asyncio
from collections import deque
from types import SimpleNamespace
from typing import Any

from ocpp_bridge.upstream.delivery import QueueDelivery, UpstreamUnavailable
from upstream import outbox


class Probe(QueueDelivery):
    """A link whose queue holds one MeterValues and whose live queue one status; upstream
    drops the connection while the status waits for its answer."""

    identity = "PROBE"
    charger_id = 1
    call_timeout_s = 1.0
    retry_interval_s = 0.1

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        closed: asyncio.Future[None] = loop.create_future()
        closed.add_done_callback(lambda _: self._wake.set())  # as UpstreamChargePoint does
        self.upstream = SimpleNamespace(closed=closed)
        self.manager = SimpleNamespace(db=self._db)
        self._live = deque([("StatusNotification", {"connectorId": 1, "status": "Charging"})])
        self._queue_dirty = False
        self._in_sync = False
        self._memory = deque()
        self._last_meter_values = {}
        self.queued_rows = [outbox.Pending(7, "MeterValues", {"transactionId": 9001}, 5, True)]
        self.sent: list[str] = []
        self.marked: list[int] = []

    @property
    def ready(self) -> bool:  # as Link's: accepted, and the connection not closed
        return not self.upstream.closed.done()

    async def _db(self, function: Any, *args: Any) -> Any:
        if function is outbox.pending:
            rows, self.queued_rows = self.queued_rows, []
            return rows
        if function is outbox.delivered:
            self.marked.append(args[1])
            return None
        raise AssertionError(f"unexpected database call {function}")

    async def call(self, action: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        if self.upstream.closed.done():
            raise UpstreamUnavailable(action)
        self.sent.append(action)
        if action == "StatusNotification":  # upstream goes while the status waits
            self.upstream.closed.set_result(None)
            await asyncio.sleep(0)  # the close's callbacks run before the call gives up
            raise UpstreamUnavailable(action)
        return {}


def test_a_close_during_a_live_message_after_a_queued_one_ends_delivery_at_once() -> None:
    """The close's wake-up is cleared at the top of the loop when a queued message went out in
    the same round: the loop must still see the close (a closed link is not ready) rather than
    sleep until the minute's poll, with the link not reconnecting meanwhile."""

    async def scenario() -> Probe:
        probe = Probe()
        await asyncio.wait_for(probe._deliver(), timeout=2)
        return probe

    probe = asyncio.run(scenario())
    assert probe.sent == ["MeterValues", "StatusNotification"]
    assert probe.marked == [7]
