"""End-to-end harness: a real bridge on a free port and test chargers over real websockets.

The bridge runs in a thread with its own event loop (as in production it runs in a process of
its own); the test chargers run on a second loop thread, so tests stay plain sync code that
also uses the ORM. Tests are transactional (``transactional_db``): what the test writes is
committed, so the bridge's database threads see it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chargers.models import Charger
from chargers.services import rotate_ocpp_password
from ocpp_bridge.bridge import Bridge

T = TypeVar("T")
NO_ANSWER = object()  # a TestCharger told to answer an action with this never answers it
_node_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _committed(transactional_db: None) -> None:
    """Every test here is transactional: the bridge's threads must see what the test wrote."""


class LoopThread:
    """An event loop running in a daemon thread; ``run()`` a coroutine on it from sync code."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class BridgeHandle:
    """A running bridge and how tests reach it."""

    def __init__(self, bridge: Bridge, thread: LoopThread) -> None:
        self.bridge = bridge
        self.thread = thread

    def url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.bridge.port}/ocpp/{identity}"

    def flush(self) -> None:
        """Write everything the bridge buffers (meter values, live state, last seen) now."""
        self.thread.run(self.bridge.flush())

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return self.thread.run(coroutine, timeout)


def start_bridge(**options: Any) -> BridgeHandle:
    thread = LoopThread("test-bridge")
    options.setdefault("node_id", f"test-node-{next(_node_ids)}")
    bridge = Bridge("127.0.0.1", 0, **options)
    thread.run(bridge.start())
    return BridgeHandle(bridge, thread)


def stop_bridge(handle: BridgeHandle) -> None:
    handle.thread.run(handle.bridge.stop(), timeout=30)
    handle.thread.close()
    assert not handle.thread.errors, handle.thread.errors


@pytest.fixture
def bridge() -> Iterator[BridgeHandle]:
    handle = start_bridge()
    try:
        yield handle
    finally:
        stop_bridge(handle)


class TestCharger:
    """A charge point over a real websocket: sends raw frames, answers the central system."""

    __test__ = False  # not a test class

    def __init__(self, loop: LoopThread, websocket: ClientConnection, bridge: BridgeHandle) -> None:
        self.loop = loop
        self.websocket = websocket
        self.bridge = bridge
        self.answers: dict[str, Any] = {}  # action -> payload (or NO_ANSWER, or a CALLERROR)
        self.received: list[list[Any]] = []  # calls the central system sent
        self.frames: list[list[Any]] = []  # every frame from the central system, in order
        self.replies: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.reader = loop.run(self._start_reader())

    async def _start_reader(self) -> asyncio.Task[None]:
        return asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.websocket:
                message = json.loads(raw)
                self.frames.append(message)
                if message[0] != 2:
                    await self.replies.put(message)
                    continue
                self.received.append(message)
                answer = self.answers.get(message[2], {"status": "Accepted"})
                if answer is NO_ANSWER:
                    continue
                if isinstance(answer, tuple):  # (errorCode, description): a CALLERROR
                    frame = [4, message[1], answer[0], answer[1], {}]
                else:
                    frame = [3, message[1], answer]
                await self.websocket.send(json.dumps(frame))
        except ConnectionClosed:
            pass

    def send(self, frame: str | bytes | list[Any], timeout: float = 5) -> list[Any]:
        """Send a frame (raw text or bytes, or a list to encode) and return the reply, decoded."""
        text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        self.loop.run(self.websocket.send(text))
        return self.loop.run(asyncio.wait_for(self.replies.get(), timeout), timeout + 1)

    def call(self, action: str, payload: dict[str, Any], unique_id: str = "m1") -> list[Any]:
        return self.send([2, unique_id, action, payload])

    def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call and return the CALLRESULT payload (fail on anything else)."""
        reply = self.call(action, payload)
        assert reply[0] == 3, reply
        return reply[2]

    def settle(self) -> None:
        """Wait until the bridge has stored what this charger said (writes happen behind the
        answers) and flushed its buffers."""
        self.bridge.flush()

    def heartbeat_answers(self) -> bool:
        reply = self.call("Heartbeat", {}, unique_id="hb")
        return reply[0] == 3 and reply[1] == "hb" and "currentTime" in reply[2]

    def wait_closed(self, timeout: float = 5) -> tuple[int | None, str | None]:
        self.loop.run(asyncio.wait_for(self.websocket.wait_closed(), timeout), timeout + 1)
        return self.websocket.close_code, self.websocket.close_reason

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a charger losing power)."""
        self.loop.loop.call_soon_threadsafe(self.websocket.transport.abort)

    def freeze(self) -> None:
        """Stop reading, as a charger that hung or lost its network does: it will not answer
        a closing handshake either."""
        self.loop.loop.call_soon_threadsafe(self.websocket.transport.pause_reading)

    def close(self) -> None:
        self.loop.run(self.websocket.close())
        self.loop.run(asyncio.wait_for(self.reader, 5))


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Chargers:
    """Opens test chargers' connections to the bridge, and closes them after the test."""

    def __init__(self, bridge: BridgeHandle) -> None:
        self.bridge = bridge
        self.loop = LoopThread("test-chargers")
        self.open: list[TestCharger] = []
        self.passwords: dict[str, str] = {}

    def password(self, charger: Charger) -> str:
        if charger.ocpp_identity not in self.passwords:
            self.passwords[charger.ocpp_identity] = rotate_ocpp_password(charger)
        return self.passwords[charger.ocpp_identity]

    def connect(self, charger: Charger, *, accepted: bool = True) -> TestCharger:
        """Connect as ``charger`` (with its password and ocpp1.6) and wait until registered.

        ``accepted``: then send a Heartbeat first, as a charger reconnecting without a reboot
        does, so the bridge takes it as accepted and sends it calls (without: no call goes out
        before it sends something; after a BootNotification, before our Accepted answer)."""
        test_charger = self.connect_raw(
            charger.ocpp_identity,
            {"Authorization": basic_auth(charger.ocpp_identity, self.password(charger))},
        )
        eventually(lambda: _holds(self.bridge, charger.ocpp_identity, test_charger))
        if accepted:
            assert test_charger.heartbeat_answers()
        return test_charger

    def connect_raw(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
    ) -> TestCharger:
        url = self.bridge.url(path)
        offered = ["ocpp1.6"] if subprotocols is None else subprotocols

        async def open_connection() -> ClientConnection:
            return await connect(
                url,
                subprotocols=offered or None,  # type: ignore[arg-type]
                additional_headers=headers or {},
                open_timeout=5,
            )

        websocket = self.loop.run(open_connection())
        test_charger = TestCharger(self.loop, websocket, self.bridge)
        self.open.append(test_charger)
        return test_charger

    def refused(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
    ) -> int:
        """The HTTP status of an upgrade the bridge refuses."""
        with pytest.raises(InvalidStatus) as refused:
            self.connect_raw(path, headers, subprotocols)
        return refused.value.response.status_code

    def close(self) -> None:
        for test_charger in self.open:
            with contextlib.suppress(Exception):  # already closed by the test or the bridge
                test_charger.close()
        self.loop.close()


def _holds(bridge: BridgeHandle, identity: str, test_charger: TestCharger) -> bool:
    """The bridge registered this connection: presence is written and the state loaded."""
    from commands.routing import node_of

    connection = bridge.bridge.server.connections.get(identity)
    return connection is not None and node_of(identity) == bridge.bridge.node_id


@pytest.fixture
def chargers(bridge: BridgeHandle) -> Iterator[Chargers]:
    pool = Chargers(bridge)
    try:
        yield pool
    finally:
        pool.close()
        # Let the bridge finish what the disconnects started before the database is flushed.
        eventually(lambda: not bridge.bridge.server.connections)


def eventually(predicate: Callable[[], Any], timeout: float = 5, interval: float = 0.02) -> Any:
    """Poll until ``predicate()`` is truthy; return its value (fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)
