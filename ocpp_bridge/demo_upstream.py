"""A light, permissive third-party central system: the demo's upstream, and the upstream of the
upstream benchmark (``bench.upstream``). Thousands of charge points in one process, plain
``websockets`` and ``json`` (the ``ocpp`` library's validation would measure the upstream, not
the bridge).

It accepts every charge point at ``/<identity>`` (subprotocol ocpp1.6), answers each call as a
permissive central system would (BootNotification Accepted with a long interval, every card
Accepted, StartTransaction with transaction ids of its own, from 500000, so the id mapping
shows), and records every call it receives as one line of ``--record``: ``received_at_ns
identity action key``, where ``key`` identifies the message for the bench (a
StatusNotification's status+info, a MeterValues' energy register, a transaction id).
Run: ``python -m ocpp_bridge.demo_upstream --port 9100 --record var/demo/demo-upstream.log``;
SIGTERM ends it (the record is flushed). ``make demo`` runs it and bridges the demo's depot to
it (``portal.demo.DEMO_UPSTREAM_PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

CALL, RESULT = 2, 3
_transaction_ids = itertools.count(500_000)


def key_of(action: str, payload: dict[str, Any]) -> str:
    """What the harness matches a received message on."""
    if action == "StatusNotification":
        return f"{payload.get('connectorId')}:{payload.get('status')}:{payload.get('info', '')}"
    if action == "MeterValues":
        for value in payload.get("meterValue", []):
            for sampled in value.get("sampledValue", []):
                if sampled.get("measurand", "Energy.Active.Import.Register").startswith("Energy"):
                    return f"{payload.get('transactionId')}:{sampled.get('value')}"
        return str(payload.get("transactionId"))
    if action == "StartTransaction":
        return f"{payload.get('connectorId')}:{payload.get('meterStart')}"
    if action == "StopTransaction":
        return f"{payload.get('transactionId')}:{payload.get('meterStop')}"
    return ""


def answer(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    accepted = {"idTagInfo": {"status": "Accepted"}}
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": now, "interval": 3600}
    if action == "Heartbeat":
        return {"currentTime": now}
    if action == "StartTransaction":
        return {"transactionId": next(_transaction_ids), **accepted}
    if action in ("Authorize", "StopTransaction"):
        return accepted
    if action == "DataTransfer":
        return {"status": "Accepted"}
    return {}


class Central:
    def __init__(self, record: Path) -> None:
        self.out = record.open("a", buffering=1 << 20)
        self.connected = 0
        self.received = 0

    async def handle(self, connection: ServerConnection) -> None:
        identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.connected += 1
        try:
            async for raw in connection:
                received_ns = time.time_ns()
                message = json.loads(raw)
                if message[0] != CALL:
                    continue
                _, unique_id, action, payload = message
                self.received += 1
                self.out.write(f"{received_ns} {identity} {action} {key_of(action, payload)}\n")
                await connection.send(json.dumps([RESULT, unique_id, answer(action, payload)]))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connected -= 1


async def main(port: int, record: Path) -> None:
    central = Central(record)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(
        central.handle,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ping_interval=None,
        max_queue=None,
    ):
        while not stop.is_set():  # the harness reads the record while the bench runs
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            central.out.flush()
    central.out.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m ocpp_bridge.demo_upstream")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    options = parser.parse_args()
    asyncio.run(main(options.port, options.record))
