"""The bridge process: one asyncio loop holding the chargers' websockets, and what it runs beside.

- ``server.OcppServer``: the websocket endpoint and the connections, one ``BridgeChargePoint``
  each (``handlers``).
- ``DatabaseThreads``: the ORM runs on a thread pool of the bridge's own, reached through
  ``sync_to_async`` on the sync functions of ``persistence`` (the async/sync boundary is there
  and only there). Several threads, so one slow query does not hold up every charger.
- ``meter_buffer.MeterBuffer``: meter values written in batches.
- ``batching.Decisions``: Authorize decisions in batches (one statement, one write each).
- ``presence.Presence``: presence keys and live-state hashes in Redis, batched per round.
- ``presence.CommandRunner``: commands from this node's Redis queue.
- ``upstream.manager.UpstreamManager``: bridged chargers' links to their upstream central systems.
- Last-seen times reach the database at most every ``last_seen_interval_s``, in one statement.

``serve_bridge()`` runs a bridge until SIGTERM/SIGINT (the ``run_bridge`` command); tests drive a
``Bridge`` in a thread of their own. The process also tunes Python's garbage collector (see
``GarbageCollection``): with thousands of connections a full collection would stop the loop for
hundreds of milliseconds to find next to nothing. Stopping is graceful: commands still queued fail, every
connection is closed (1001), buffers are flushed, and the chargers it held are marked offline.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from auth_access.checks import Asked, Check
from ocpp_bridge import persistence
from ocpp_bridge.batching import Decisions
from ocpp_bridge.meter_buffer import MeterBuffer
from ocpp_bridge.presence import STOP, CommandRunner, Presence
from ocpp_bridge.server import OcppServer, tls_context
from ocpp_bridge.upstream.manager import UpstreamManager
from portal.redis import get_async_redis

logger = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.001
# ORM work is mostly Python, so more threads add no throughput under the GIL, only contention
# with the event loop (measured: 8 threads made the loop lag by hundreds of milliseconds).
DB_THREADS = 3
LAG_PROBE_S = 0.1
P = ParamSpec("P")
R = TypeVar("R")


def default_node_id() -> str:
    return settings.BRIDGE_NODE_ID or f"{socket.gethostname()}-{os.getpid()}"


class DatabaseThreads:
    """A thread pool the bridge's ORM calls run on; ``await db(fn, *args)``.

    It counts calls, the time they waited for a thread and the time they ran, for the stats line.
    """

    def __init__(self, size: int, name: str = "bridge-db") -> None:
        self._executor = ThreadPoolExecutor(
            size, thread_name_prefix=name, initializer=self._remember_connection
        )
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self.calls = 0
        self.waited_s = 0.0
        self.ran_s = 0.0
        self.longest_wait_s = 0.0

    def _remember_connection(self) -> None:
        with self._lock:
            self._connections.append(connections[DEFAULT_DB_ALIAS])

    async def __call__(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        queued = time.perf_counter()
        started = queued

        def timed() -> R:
            nonlocal started
            started = time.perf_counter()
            return function(*args, **kwargs)

        try:
            return await sync_to_async(timed, thread_sensitive=False, executor=self._executor)()
        finally:
            waited = started - queued
            self.calls += 1
            self.waited_s += waited
            self.ran_s += time.perf_counter() - started
            self.longest_wait_s = max(self.longest_wait_s, waited)

    def take_stats(self) -> str:
        calls = self.calls or 1
        text = (
            f"{self.calls} db calls (wait avg {self.waited_s / calls * 1000:.1f} ms,"
            f" max {self.longest_wait_s * 1000:.0f} ms; run avg {self.ran_s / calls * 1000:.1f} ms)"
        )
        self.calls, self.waited_s, self.ran_s, self.longest_wait_s = 0, 0.0, 0.0, 0.0
        return text

    def close(self) -> None:
        """Wait for the threads to end, then close the database connections they opened."""
        self._executor.shutdown(wait=True)
        for connection in self._connections:
            connection.inc_thread_sharing()
            try:
                connection.close()
            finally:
                connection.dec_thread_sharing()
        self._connections.clear()


class GarbageCollection:
    """Keep full collections from pausing the loop, without keeping closed connections' garbage.

    Thousands of connections are hundreds of thousands of long-lived objects (~80 tracked
    objects each), and every full (generation 2) collection scans them all: ~300 ms at 2,000
    connections, measured. So every ``interval_s`` what survived is frozen (after collecting the
    young generations), and the young generations are collected less often. A closed connection
    still leaves a few objects in reference cycles (asyncio's transport and its closed socket,
    ~1 kB), which frozen objects never give back: one full collection (unfreeze, collect,
    freeze) frees them once ``full_after_closed`` connections have closed since the last one, as
    soon as closes have calmed down (fewer than ``quiet_closes`` in the last
    ``check_interval_s``), so a reconnect storm costs one pause after it rather than several
    during it; or at once past ``10 * full_after_closed``.
    """

    def __init__(
        self,
        closed_connections: Callable[[], int],
        *,
        interval_s: float = 60,
        check_interval_s: float = 10,
        young_threshold: int = 10_000,
        full_after_closed: int = 10_000,
        quiet_closes: int = 100,
    ) -> None:
        self.closed_connections = closed_connections
        self.interval_s = interval_s
        self.check_interval_s = check_interval_s
        self.young_threshold = young_threshold
        self.full_after_closed = full_after_closed
        self.quiet_closes = quiet_closes
        self.longest_pause_s = 0.0  # of any collection, for the stats line
        self.longest_generation = 0  # the generation that collection collected
        self._pause_started = 0.0

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._pause_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._pause_started
            if pause > self.longest_pause_s:
                self.longest_pause_s = pause
                self.longest_generation = info.get("generation", 0)

    def take_stats(self) -> str:
        text = (
            f"longest GC pause {self.longest_pause_s * 1000:.0f} ms"
            f" (generation {self.longest_generation})"
        )
        self.longest_pause_s = 0.0
        return text

    def due_full(self, pending_closes: int, recent_closes: int) -> bool:
        """Whether to collect everything now, ``pending_closes`` connections having closed since
        the last full collection, ``recent_closes`` of them in the last check interval."""
        if pending_closes < self.full_after_closed:
            return False
        return recent_closes < self.quiet_closes or pending_closes >= 10 * self.full_after_closed

    async def run(self) -> None:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(self.young_threshold, middle, old)
        gc.callbacks.append(self._on_collection)
        try:
            closed_at_full = closed_at_check = self.closed_connections()
            young_due = 0.0
            while True:
                closed = self.closed_connections()
                if self.due_full(closed - closed_at_full, closed - closed_at_check):
                    self._collect_all(closed - closed_at_full)
                    closed_at_full = closed
                    young_due = time.monotonic() + self.interval_s
                elif time.monotonic() >= young_due:
                    gc.collect(1)
                    gc.freeze()
                    young_due = time.monotonic() + self.interval_s
                closed_at_check = closed
                await asyncio.sleep(self.check_interval_s)
        finally:
            gc.callbacks.remove(self._on_collection)

    def _collect_all(self, closes: int) -> None:
        started = time.perf_counter()
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        logger.info(
            "Full garbage collection after %d closed connections: %d of %d objects freed in"
            " %.0f ms",
            closes,
            freed,
            frozen,
            (time.perf_counter() - started) * 1000,
        )


class Bridge:
    """One bridge node: start(), then stop() (or serve_bridge() for both)."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        node_id: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        db_threads: int = DB_THREADS,
        ping_interval_s: float | None = 30,
        ping_timeout_s: float | None = 30,
        meter_flush_interval_s: float = 1.0,
        meter_flush_rows: int = 2000,
        presence_flush_interval_s: float = 0.5,
        last_seen_interval_s: float = 60.0,
        online_interval_s: float = 1.0,
        stats_interval_s: float = 60.0,
    ) -> None:
        self.host = host if host is not None else settings.OCPP_BRIDGE_HOST
        self.requested_port = port if port is not None else settings.OCPP_BRIDGE_PORT
        self.node_id = node_id or default_node_id()
        self.tls_cert = settings.OCPP_TLS_CERT if tls_cert is None else tls_cert
        self.tls_key = settings.OCPP_TLS_KEY if tls_key is None else tls_key
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.last_seen_interval_s = last_seen_interval_s
        self.online_interval_s = online_interval_s
        self.stats_interval_s = stats_interval_s
        self.messages = 0  # frames received, for the stats line
        self.pending_writes: set[asyncio.Task[Any]] = set()  # chargers' writes behind answers
        self.shutting_down = False
        self.db = DatabaseThreads(db_threads)
        # Batch writes (meter values, online states) on a lane of their own: a big COPY never
        # holds up a charger's upgrade or a StartTransaction.
        self.db_batches = DatabaseThreads(1, "bridge-db-batches")
        # And the lookups at the upgrade (batched, see server.Admissions) on a third lane: a
        # reconnect storm never waits behind the chargers' writes, nor they behind it.
        self.db_admissions = DatabaseThreads(1, "bridge-db-admissions")
        # Authorize decisions, batched (see batching.Decisions) on the chargers' lane.
        self.decisions = Decisions(self._decide, track=self.track)
        self.redis = get_async_redis()
        self.presence = Presence(
            self.redis, self.node_id, flush_interval_s=presence_flush_interval_s
        )
        self.meters = MeterBuffer(
            self._write_meters,
            interval_s=meter_flush_interval_s,
            max_rows=meter_flush_rows,
            write_signed=self._write_signed,
        )
        self.server = OcppServer(self)
        self.commands = CommandRunner(
            self.redis, self.node_id, self.db, self.server.connections.get
        )
        # Bridged chargers' connections to their upstream central systems (docs/upstream.md).
        self.upstream = UpstreamManager(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self.collector: GarbageCollection | None = None  # serve_bridge() tunes the process

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self.server.server is not None
        return int(self.server.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        context = tls_context(self.tls_cert, self.tls_key) if self.tls_cert else None
        await self.redis.lrem(self.commands.queue, 0, STOP)  # left by a crashed predecessor
        await self.server.start(
            self.host,
            self.requested_port,
            ssl_context=context,
            ping_interval_s=self.ping_interval_s,
            ping_timeout_s=self.ping_timeout_s,
        )
        for name, coroutine in [
            ("presence", self.presence.run()),
            ("meters", self.meters.run()),
            ("online", self._online_loop()),
            ("stats", self._stats_loop()),
            ("commands", self.commands.run()),
        ]:
            task = asyncio.create_task(coroutine, name=f"bridge-{name}")
            task.add_done_callback(_log_crash)
            self._tasks.append(task)
        await self.upstream.start()
        scheme = "wss" if context else "ws"
        logger.info(
            "OCPP bridge %s listening on %s://%s:%s/ocpp/<identity>",
            self.node_id,
            scheme,
            self.host,
            self.port,
        )

    async def _decide(self, asked: list[Asked]) -> list[Check | BaseException]:
        return await self.db(persistence.authorize_id_tags, asked)

    async def _write_meters(self, rows: list[Any], registers: dict[tuple[int, int], float]) -> None:
        await self.db_batches(persistence.write_meter_values, rows, registers)

    async def _write_signed(self, rows: list[persistence.SignedRow]) -> None:
        await self.db_batches(persistence.write_signed_values, rows)

    async def _stats_loop(self) -> None:
        """One INFO line a minute: what the node holds and how hard it works. The loop's lag is
        how late a 100 ms sleep wakes up: what every charger waits on top of its own work."""
        while True:
            lags: list[float] = []
            deadline = time.monotonic() + self.stats_interval_s
            while time.monotonic() < deadline:
                started = time.monotonic()
                await asyncio.sleep(LAG_PROBE_S)
                lags.append(time.monotonic() - started - LAG_PROBE_S)
            lags.sort()
            lag_p99_s = lags[int(len(lags) * 0.99)] if lags else 0.0
            messages, self.messages = self.messages, 0
            slowest_wait_s = max(self.db.longest_wait_s, self.db_admissions.longest_wait_s)
            slowest_round_s = self.presence.slowest_round_s
            self.presence.slowest_round_s = 0.0
            # Loud when the node falls behind: waits that chargers feel.
            worst = max(slowest_wait_s, slowest_round_s, lag_p99_s * 10)
            level = logging.WARNING if worst > 1 else logging.INFO
            logger.log(
                level,
                "%d connections, %d messages (%.0f/s), loop lag p99 %.0f ms max %.0f ms, %s,"
                " batches: %s, admissions: %s (%s), %s, slowest Redis round %.0f ms,"
                " %d meter rows written, %d waiting, upstream lane: %s%s",
                len(self.server.connections),
                messages,
                messages / self.stats_interval_s,
                lag_p99_s * 1000,
                (lags[-1] if lags else 0.0) * 1000,
                self.db.take_stats(),
                self.db_batches.take_stats(),
                self.server.admissions.take_stats(),
                self.db_admissions.take_stats(),
                self.decisions.take_stats(),
                slowest_round_s * 1000,
                self.meters.rows_written,
                self.meters.pending,
                self.upstream.db.take_stats(),
                f", {self.collector.take_stats()}" if self.collector else "",
            )

    async def _online_loop(self) -> None:
        """Online flags and connect/disconnect events every ``online_interval_s``; last-seen
        times every ``last_seen_interval_s``."""
        last_seen_due = time.monotonic() + self.last_seen_interval_s
        while True:
            await asyncio.sleep(self.online_interval_s)
            with_seen = time.monotonic() >= last_seen_due
            if with_seen:
                last_seen_due = time.monotonic() + self.last_seen_interval_s
            try:
                await self._write_online(with_seen=with_seen)
            except Exception:  # kept for the next round
                logger.exception("Writing online states failed")

    async def _write_online(self, *, with_seen: bool) -> None:
        changes = self.presence.take_online_changes()
        seen = self.presence.take_seen() if with_seen else {}
        if not (changes or seen):
            return
        try:
            await self.db_batches(persistence.record_online_changes, changes, seen)
        except Exception:
            self.presence.put_back(changes, seen)
            raise

    def track(self, task: asyncio.Task[R]) -> asyncio.Task[R]:
        """Remember a charger's database work until done (``settle()`` and ``stop()`` wait)."""
        self.pending_writes.add(task)
        task.add_done_callback(self.pending_writes.discard)
        return task

    async def settle(self) -> None:
        """Wait until the chargers' database work so far is done."""
        while self.pending_writes:
            await asyncio.wait(list(self.pending_writes))

    async def flush(self) -> None:
        """Everything done and written now: chargers' writes, meter values, presence and live
        state, online states and last seen."""
        await self.settle()
        await self.meters.flush()
        await self.presence.flush()
        await self._write_online(with_seen=True)

    async def stop(self) -> None:
        """Graceful stop: no new commands, close connections, flush, mark chargers offline."""
        if self._stopped:
            return
        self._stopped = True
        self.shutting_down = True
        held = len(self.server.connections)
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("stop taking commands", self._stop_commands),
            ("close connections", self.server.close),
            ("close upstream links", self.upstream.stop),
            ("fail queued commands", self.commands.fail_queued),
            ("release presence", lambda: self.presence.release_all("Bridge node stopped")),
            ("flush", self.flush),
        ]
        for what, step in steps:
            try:
                await step()
            except Exception:
                logger.exception("Stopping the bridge: could not %s", what)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()
        for threads in (self.db, self.db_batches, self.db_admissions):  # not from the loop
            await asyncio.to_thread(threads.close)
        logger.info("OCPP bridge %s stopped (%d chargers released)", self.node_id, held)

    async def _stop_commands(self) -> None:
        await self.commands.stop()
        loop_task = next((t for t in self._tasks if t.get_name() == "bridge-commands"), None)
        if loop_task is not None:
            await asyncio.wait({loop_task}, timeout=5)
        if self.commands.running:
            await asyncio.wait(self.commands.running, timeout=5)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Bridge task %s crashed", task.get_name(), exc_info=task.exception())


async def serve_bridge(
    host: str | None = None,
    port: int | None = None,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    tune_process: bool = True,
    **options: Any,
) -> None:
    """Run a bridge until ``stop`` is set or SIGTERM/SIGINT arrives, then stop it gracefully."""
    bridge = Bridge(host, port, **options)
    if tune_process:
        # The loop thread and the database threads share the GIL; a thread back from a query
        # (or the loop back from a socket call) would wait up to 5 ms for the busy one.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        bridge.collector = GarbageCollection(lambda: bridge.server.closed_count)
        collector = asyncio.create_task(bridge.collector.run(), name="bridge-gc")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = [signal.SIGTERM, signal.SIGINT] if handle_signals else []
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await bridge.start()
        await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await bridge.stop()
        if tune_process:
            collector.cancel()
