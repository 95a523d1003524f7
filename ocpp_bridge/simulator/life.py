"""The simulated charger's life, connected or not: cars come and go, charge, and are metered.

A car arrives on a free connector, its driver presents a card after a while (Authorize, or the
local list and cache while offline), charging runs under the limit in force, meter values are
sampled every ``MeterValueSampleInterval`` seconds, and the driver comes back to end the session
(StopTransaction, Finishing) and unplugs. Transaction messages go to the outbox, which keeps them
while offline. Mixed into ``SimulatedCharger``; the attributes below are its.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import call

from ocpp_bridge.simulator.car import random_car
from ocpp_bridge.simulator.configuration import Configuration
from ocpp_bridge.simulator.settings import SimSettings, ocpp_time, utcnow
from ocpp_bridge.simulator.station import Connector, Station, Transaction
from ocpp_bridge.simulator.stats import Stats

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from ocpp_bridge.simulator.charger import Outgoing


class Offline(Exception):
    """The charger has no connection: a message that is not kept for later cannot be sent."""


class ChargingLife:
    """Cars, transactions and meter values of a simulated charger."""

    settings: SimSettings
    config: Configuration
    station: Station
    stats: Stats
    visits: random.Random  # car visits only, so a seed gives the same cars whatever the network
    operative: bool
    online_event: asyncio.Event
    _wake: asyncio.Event
    _frozen: bool
    _reporting: bool
    _in_tick: bool
    _last_mono: float
    _next_aligned: float | None

    if TYPE_CHECKING:

        def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

        def enqueue(
            self,
            build: Callable[[], Any],
            *,
            transactional: bool = False,
            on_result: Callable[[Any], None] | None = None,
        ) -> Outgoing | None: ...

        async def request(self, payload: Any) -> Any: ...

        def queue_status(self, connector_id: int | None, *, changed_only: bool = False) -> None: ...

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed, self._last_mono = max(0.0, now - self._last_mono), now
        self.station.advance(utcnow(), elapsed * self.settings.speed, self.settings.speed)

    def sim_delay(self, sim_seconds: float) -> float:
        """Monotonic time at which ``sim_seconds`` of simulated time will have passed."""
        return time.monotonic() + sim_seconds / self.settings.speed

    def poke(self) -> None:
        """Something changed (a limit, a command): update now and let the life loop re-plan."""
        if not self._in_tick:
            self._tick()
        self._wake.set()

    def _plan_initial_cars(self) -> None:
        for connector in self.station.connectors.values():
            if not self.settings.cars:
                continue
            if self.visits.random() < self.settings.initial_occupancy:
                self.arrive(connector, swipe_after_s=self.visits.uniform(5, 60))
            else:
                connector.arrive_at = self.sim_delay(
                    self.visits.expovariate(1 / self.settings.mean_idle_s)
                )

    async def _life(self) -> None:
        while True:
            self._tick()
            now = time.monotonic()
            wake = now + self.settings.tick_s
            for connector in self.station.connectors.values():
                for at in (
                    connector.arrive_at,
                    connector.swipe_at,
                    connector.leave_at,
                    connector.unplug_at,
                    connector.next_sample_at,
                ):
                    if at is not None:
                        wake = min(wake, at)
            if self._next_aligned is not None:
                wake = min(wake, self._next_aligned)
            if self.station.ramping():
                wake = min(wake, now + 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake - now) + 0.001):
                    await self._wake.wait()

    def _tick(self) -> None:
        self._in_tick = True
        try:
            self._advance()
            if not self._frozen:
                now = time.monotonic()
                for connector in self.station.connectors.values():
                    self._visit(connector, now)
                    due = connector.next_sample_at
                    if due is not None and due <= now:
                        self._sample(connector, "Sample.Periodic")
                        interval = self.config.get_int("MeterValueSampleInterval")
                        following = due + interval
                        connector.next_sample_at = (
                            (following if following > now else now + interval) if interval else None
                        )
                self._clock_aligned(now)
                self._advance()
            if self._reporting:
                self.queue_status(None, changed_only=True)
        finally:
            self._in_tick = False

    def _visit(self, connector: Connector, now: float) -> None:
        """What the car and its driver do next on this connector."""
        if connector.arrive_at is not None and connector.arrive_at <= now:
            connector.arrive_at = None
            # A reserved connector waits for its driver (who starts from the app), not a visitor.
            if connector.operative and connector.car is None and connector.reservation is None:
                self.arrive(connector, swipe_after_s=self.visits.uniform(5, 30))
            else:
                self._plan_next_car(connector)
        if connector.swipe_at is not None and connector.swipe_at <= now:
            connector.swipe_at = None
            if connector.car and not connector.transaction and not connector.finishing:
                self.spawn(self.authorize_and_start(connector, connector.car.id_tag))
        if connector.leave_at is not None and connector.leave_at <= now:
            connector.leave_at = None
            self.driver_leaves(connector)
        if connector.unplug_at is not None and connector.unplug_at <= now:
            self.unplug(connector)

    def arrive(self, connector: Connector, *, swipe_after_s: float, id_tag: str = "") -> None:
        """A car is plugged in; its driver presents a card after ``swipe_after_s`` (simulated)."""
        tag = id_tag or self.visits.choice(self.settings.cards)
        connector.car = random_car(self.rng, id_tag=tag)
        connector.finishing = False
        connector.arrive_at = None
        connector.swipe_at = self.sim_delay(swipe_after_s) if not id_tag else None
        connector.leave_at = self.sim_delay(self.visits.uniform(*self.settings.dwell_s))

    def _plan_next_car(self, connector: Connector) -> None:
        if self.settings.cars and not self._frozen:
            connector.arrive_at = self.sim_delay(
                self.visits.expovariate(1 / self.settings.mean_idle_s)
            )

    def driver_leaves(self, connector: Connector) -> None:
        if connector.transaction is None:
            self.unplug(connector)
        elif self.visits.random() < 0.2:  # some just pull the plug
            self.stop_transaction(connector, "EVDisconnected")
            self.unplug(connector)
        else:  # most present their card to end the session, then unplug
            self.stop_transaction(connector, "Local", id_tag=connector.transaction.id_tag)
            connector.unplug_at = self.sim_delay(self.visits.uniform(5, 60))

    def unplug(self, connector: Connector) -> None:
        if connector.transaction is not None:
            self.stop_transaction(connector, "EVDisconnected")
        connector.car = None
        connector.finishing = False
        connector.swipe_at = connector.leave_at = connector.unplug_at = None
        if connector.inoperative_when_free:
            connector.operative, connector.inoperative_when_free = False, False
        self._plan_next_car(connector)
        self.poke()

    async def authorize_and_start(self, connector: Connector, id_tag: str) -> None:
        """The driver presents ``id_tag``: ask the central system (or the local list offline)."""
        car = connector.car
        if connector.authorizing or car is None:
            return
        connector.authorizing = True
        try:
            accepted: bool | None = None
            if self.config.get_bool("LocalPreAuthorize") and self.station.known_locally(id_tag):
                accepted = True
            elif self.online_event.is_set():
                with contextlib.suppress(Offline, OCPPError, TimeoutError):
                    result = await self.request(call.Authorize(id_tag=id_tag))
                    self.station.remember(id_tag, result.id_tag_info)
                    accepted = result.id_tag_info.get("status") == "Accepted"
            if accepted is None:  # offline: the local list and cache, or the offline rule
                local = self.config.get_bool(
                    "LocalAuthorizeOffline"
                ) and self.station.known_locally(id_tag)
                accepted = local or self.config.get_bool("AllowOfflineTxForUnknownId")
                if not accepted:
                    connector.swipe_at = self.sim_delay(60)  # try again later
                    return
        finally:
            connector.authorizing = False
        if connector.car is not car or connector.transaction is not None:
            return  # the car left (or something else started) meanwhile
        if not (connector.operative and self.operative):
            accepted = False  # out of order: the driver goes elsewhere
        if accepted:
            self.start_transaction(connector, id_tag)
        else:  # refused: the driver gives up and drives away
            connector.unplug_at = self.sim_delay(self.visits.uniform(10, 60))

    def start_transaction(self, connector: Connector, id_tag: str) -> Transaction:
        self._advance()
        now = utcnow()
        measurands = self.config.get_list("StopTxnSampledData")
        tx = Transaction(
            id_tag=id_tag,
            meter_start_wh=int(connector.register_wh),
            started_at=now,
            start_values=self.station.sampled_values(connector, measurands, "Transaction.Begin"),
        )
        connector.transaction = tx
        connector.swipe_at = None
        hold, connector.reservation = connector.reservation, None
        reservation_id = hold.reservation_id if hold and hold.id_tag == id_tag else None

        def on_result(result: Any) -> None:
            tx.transaction_id = result.transaction_id
            info = result.id_tag_info
            self.station.remember(id_tag, info)
            refused = info.get("status") != "Accepted"
            stop = self.config.get_bool("StopTransactionOnInvalidId")
            if refused and stop and connector.transaction is tx:
                self.stop_transaction(connector, "DeAuthorized")
                connector.unplug_at = self.sim_delay(self.visits.uniform(10, 60))

        self.enqueue(
            lambda: call.StartTransaction(
                connector_id=connector.connector_id,
                id_tag=id_tag,
                meter_start=tx.meter_start_wh,
                timestamp=ocpp_time(now),
                reservation_id=reservation_id,
            ),
            transactional=True,
            on_result=on_result,
        )
        interval = self.config.get_int("MeterValueSampleInterval")
        connector.next_sample_at = time.monotonic() + interval if interval else None
        self.poke()
        return tx

    def stop_transaction(
        self, connector: Connector, reason: str, id_tag: str | None = None
    ) -> None:
        self._advance()
        tx = connector.transaction
        if tx is None:
            return
        now = utcnow()
        measurands = self.config.get_list("StopTxnSampledData")
        end_values = self.station.sampled_values(connector, measurands, "Transaction.End")
        meter_stop = int(connector.register_wh)
        transaction_data = [
            {"timestamp": ocpp_time(tx.started_at), "sampled_value": tx.start_values},
            {"timestamp": ocpp_time(now), "sampled_value": end_values},
        ]
        connector.transaction = None
        connector.next_sample_at = None
        connector.finishing = connector.car is not None
        if connector.car is not None:
            connector.car.current_a = 0.0
        self.station.profiles.end_transaction(connector.connector_id)

        def build() -> call.StopTransaction | None:
            if tx.transaction_id is None:
                return None  # its StartTransaction was never accepted: nothing to stop
            return call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=ocpp_time(now),
                transaction_id=tx.transaction_id,
                reason=reason,
                id_tag=id_tag,
                transaction_data=transaction_data,
            )

        def on_result(_: Any) -> None:
            self.stats.transaction_values_acked += len(tx.start_values) + len(end_values)

        self.enqueue(build, transactional=True, on_result=on_result)
        if connector.inoperative_when_free and connector.car is None:
            connector.operative, connector.inoperative_when_free = False, False
        self.poke()

    def _sample(self, connector: Connector, context: str) -> None:
        """Take a meter reading now and queue it (a transaction message while charging)."""
        measurands = self.config.get_list("MeterValuesSampledData")
        self._queue_meter_values(connector, measurands, context)

    def _queue_meter_values(
        self, connector: Connector, measurands: list[str], context: str, *, volatile: bool = False
    ) -> None:
        self._advance()
        values = self.station.sampled_values(connector, measurands, context)
        if not values:
            return
        tx = connector.transaction
        meter_value = [{"timestamp": ocpp_time(utcnow()), "sampled_value": values}]

        def build() -> call.MeterValues:
            return call.MeterValues(
                connector_id=connector.connector_id,
                meter_value=meter_value,
                transaction_id=tx.transaction_id if tx else None,
            )

        def on_result(_: Any) -> None:
            self.stats.sampled_values_acked += len(values)

        self.enqueue(build, transactional=tx is not None and not volatile, on_result=on_result)

    def extra_meter_values(self) -> None:
        """One more MeterValues now, on the first connector (the load benchmark's burst)."""
        connector = self.station.connectors[1]
        self._queue_meter_values(
            connector, self.config.get_list("MeterValuesSampledData"), "Sample.Periodic"
        )

    def _clock_aligned(self, now: float) -> None:
        interval = self.config.get_int("ClockAlignedDataInterval")
        if not interval:
            self._next_aligned = None
            return
        if self._next_aligned is None or self._next_aligned > now + interval:
            wall = time.time()
            self._next_aligned = now + (interval - wall % interval)
            return
        if self._next_aligned <= now:
            measurands = self.config.get_list("MeterValuesAlignedData")
            for connector in self.station.connectors.values():
                self._queue_meter_values(connector, measurands, "Sample.Clock")
            self._next_aligned += interval
