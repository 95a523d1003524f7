"""Many simulated chargers in one asyncio loop, and the control channel the load benchmark uses.

``Fleet.run()`` starts every charger (spread over ``ramp_s`` seconds), logs a summary now and then,
and on a stop (signal, duration, or the ``stop`` command) lets each charger send what it has
queued before closing. With ``control=True`` it reads JSON commands, one per line, on stdin and
answers on stdout:

- ``{"cmd": "stats", "reset": true}``: counters and the round-trip times since the last reset
  (``"latencies": false`` leaves the times out);
- ``{"cmd": "burst", "rate": 333, "duration": 30}``: extra MeterValues at ``rate`` per second;
- ``{"cmd": "storm", "window": 60}``: every charger drops its connection now and reconnects at a
  random moment within ``window`` seconds (transaction messages queue meanwhile);
- ``{"cmd": "stop", "drain": 60}``: send what is queued (at most ``drain`` seconds), then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from ocpp_bridge.simulator.charger import SimulatedCharger
from ocpp_bridge.simulator.settings import SimSettings
from ocpp_bridge.simulator.station import ChargerSpec
from ocpp_bridge.simulator.stats import Stats

log = logging.getLogger("ocpp_bridge.simulator")

ROTATIONS = ("L1L2L3", "L2L3L1", "L3L1L2")


def synthetic_spec(identity: str, password: str) -> ChargerSpec:
    """A plausible charger for an identity: the same identity always gives the same charger, so
    a benchmark can register them in the database and simulate them in another process."""
    rng = random.Random(f"spec:{identity}")
    phases = 3 if rng.random() < 0.8 else 1
    return ChargerSpec(
        identity=identity,
        password=password,
        phases=phases,
        phase_rotation=rng.choice(ROTATIONS),
        connectors=2 if rng.random() < 0.1 else 1,
        max_current_a=rng.choice((16.0, 32.0)) if phases == 3 else 32.0,
        serial_number=f"SN-{identity}",
    )


def synthetic_specs(prefix: str, first: int, count: int, password: str) -> list[ChargerSpec]:
    return [synthetic_spec(f"{prefix}{n:05d}", password) for n in range(first, first + count)]


async def collect_garbage(
    disconnects: Callable[[], int], *, check_s: float = 10.0, young_every_s: float = 30.0
) -> None:
    """Keep the cycle collector from pausing thousands of chargers' loop for hundreds of ms.

    By default it scans every object now and then (seen in the load benchmark: 0.3-0.5 s stalls
    of the workers, which count in the measured round trips). So what lives is frozen every
    ``young_every_s`` (after collecting the young generations, less often than by default), and
    a full collection (unfreeze, collect, freeze) runs only after a thousand connections have
    closed, once closes have calmed down (their transports leave small reference cycles).
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(10_000, middle, old)
    at_full = at_check = disconnects()
    young_due = 0.0
    while True:
        now = disconnects()
        if now - at_full >= 1_000 and now - at_check < 50:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            at_full = now
        elif time.monotonic() >= young_due:
            gc.collect(1)
            gc.freeze()
            young_due = time.monotonic() + young_every_s
        at_check = now
        await asyncio.sleep(check_s)


class Fleet:
    """Simulated chargers sharing one event loop and one ``Stats``."""

    def __init__(self, specs: list[ChargerSpec], settings: SimSettings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.chargers = [SimulatedCharger(spec, settings, self.stats) for spec in specs]
        self.rng = random.Random(f"{settings.seed}:fleet")
        self._stop = asyncio.Event()
        self._drain_s = 5.0  # on a signal: the demo supervisor waits 10 s before it kills
        self._background: set[asyncio.Task[Any]] = set()

    def request_stop(self, drain_s: float | None = None) -> None:
        if drain_s is not None:
            self._drain_s = drain_s
        self._stop.set()

    def queued(self) -> int:
        return sum(1 for c in self.chargers for item in c.outbox if item.transactional)

    def snapshot(self, *, reset: bool = False, latencies: bool = True) -> dict[str, Any]:
        return self.stats.snapshot(reset_latencies=reset, queued=self.queued(), latencies=latencies)

    async def run(
        self,
        *,
        ramp_s: float = 0.0,
        duration_s: float | None = None,
        control: bool = False,
        report_every_s: float = 60.0,
        handle_signals: bool = True,
        tune_gc: bool = False,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.request_stop)
        count = len(self.chargers)
        runners = [
            self._spawn(charger.run(start_delay_s=ramp_s * n / max(1, count)))
            for n, charger in enumerate(self.chargers)
        ]
        self._spawn(self._report(report_every_s))
        if tune_gc:  # a process of its own (not in tests)
            self._spawn(collect_garbage(lambda: self.stats.disconnects))
        if control:
            self._spawn(self._control())
        log.info("simulating %d chargers against %s", count, self.settings.url)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration_s):
                await self._stop.wait()
        unsent = await self.shutdown(self._drain_s)
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        final = self.snapshot()
        final["unsent"] = unsent
        log.info("stopped: %s", self.stats.summary())
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        return final

    async def shutdown(self, drain_s: float) -> int:
        """Let every charger send what it queued (within ``drain_s``), then close them all."""
        results = await asyncio.gather(
            *(c.shutdown(drain_s) for c in self.chargers), return_exceptions=True
        )
        return sum(r for r in results if isinstance(r, int))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _report(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            log.info("%d chargers: %s", len(self.chargers), self.stats.summary())

    # --- load benchmark phases ------------------------------------------------------------------

    async def burst(self, rate_per_s: float, duration_s: float) -> None:
        """Extra MeterValues at ``rate_per_s``, round-robin over the connected chargers."""
        deadline = time.monotonic() + duration_s
        started = time.monotonic()
        sent = 0
        online: list[SimulatedCharger] = []
        listed_at = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - listed_at > 1:  # who is connected, once a second is enough
                online = [c for c in self.chargers if c.online_event.is_set()]
                listed_at = time.monotonic()
            due = int((time.monotonic() - started) * rate_per_s) - sent
            for _ in range(due if online else 0):
                online[self.rng.randrange(len(online))].extra_meter_values()
                sent += 1
            await asyncio.sleep(0.05)

    def storm(self, window_s: float) -> None:
        """Every charger drops its connection now and is back within ``window_s`` seconds."""
        for charger in self.chargers:
            charger.spawn(charger.disconnect(self.rng.uniform(0, window_s)))

    async def _control(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = json.loads(line)
            name = command.get("cmd")
            if name == "stats":
                answer = self.snapshot(
                    reset=bool(command.get("reset")), latencies=command.get("latencies", True)
                )
            elif name == "burst":
                self._spawn(self.burst(float(command["rate"]), float(command["duration"])))
                answer = {"ok": True}
            elif name == "storm":
                self.storm(float(command["window"]))
                answer = {"ok": True}
            elif name == "stop":
                self.request_stop(float(command.get("drain", 30)))
                return
            else:
                answer = {"error": f"unknown command {name!r}"}
            sys.stdout.write(json.dumps({"reply": name, **answer}) + "\n")
            sys.stdout.flush()
        self.request_stop()  # the controller went away
