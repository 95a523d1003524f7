"""How the bridge process keeps its pauses short: when the cycle collector runs in full."""

from __future__ import annotations

import gc
import weakref

from ocpp_bridge.bridge import GarbageCollection
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, eventually


def test_a_full_collection_waits_until_a_reconnect_storm_has_calmed_down() -> None:
    collector = GarbageCollection(lambda: 0, full_after_closed=1_000, quiet_closes=100)
    assert not collector.due_full(pending_closes=999, recent_closes=0)  # little garbage yet
    assert not collector.due_full(pending_closes=5_000, recent_closes=2_000)  # mid-storm
    assert collector.due_full(pending_closes=5_000, recent_closes=50)  # calm again: one pause
    assert collector.due_full(pending_closes=10_000, recent_closes=2_000)  # too much: now


def test_a_closed_connection_is_freed_without_the_cycle_collector(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    """Long-lived connections are frozen (out of the collector's reach): what a closed one held
    must go by reference counting alone, or it stays until the next full collection."""
    charger = chargers.connect(world.charger_a1)
    held = weakref.ref(bridge.bridge.server.connections[world.charger_a1.ocpp_identity])
    assert charger.heartbeat_answers()
    gc.disable()
    try:
        charger.close()
        eventually(lambda: not bridge.bridge.server.connections)
        bridge.flush()
        eventually(lambda: held() is None)
    finally:
        gc.enable()
