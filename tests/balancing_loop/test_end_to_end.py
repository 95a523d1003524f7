"""The whole loop, live: 20 simulated chargers on a 63 A installation, cars arriving over time.

Everything is real except the clock of the cars (the simulator runs their batteries and visits 60
times faster): the bridge holds the chargers' websockets, their status changes ask for solves
through Redis, a Celery worker (in a thread, on the real broker) solves and sends
SetChargingProfile through the command path, and the simulated chargers obey what they receive.
The test reads what every simulated car actually draws, four times a second, and adds it up per
fuse and phase the way the installation is wired.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from celery.contrib.testing.worker import start_worker

from accounts.models import User
from balancing import tasks
from chargers.models import Charger, ChargeSession
from chargers.services import register_charger
from installations.choices import AuthorizationMode
from installations.models import Circuit
from installations.services import create_installation
from ocpp_bridge.management.commands.simulate import specs_from_database
from ocpp_bridge.simulator.fleet import Fleet
from ocpp_bridge.simulator.settings import SimSettings
from portal.celery import app as celery_app
from portal.redis import get_redis
from tests.ocpp.conftest import LoopThread, eventually, start_bridge, stop_bridge

PASSWORD = "e2e-balancing"
RUN_S = 45
SAMPLE_S = 0.25
# Lowering limits are answered before raising ones are sent, but a car needs a moment to come
# down (the simulator's cars: 15 A/s, at 60x speed well under a sampling period). A fuse holds
# far more than this for far longer; an overload is a draw above the limit in two samples running.
ROUNDING_A = 0.05


@dataclass
class Watch:
    """What the sampler saw."""

    samples: int = 0
    worst_margin_a: dict[str, float] = field(default_factory=dict)  # fuse -> min(limit - load)
    overloads: list[tuple[float, str, int, float]] = field(default_factory=list)
    charging_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    waiting_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def _site(owner: User) -> tuple[int, dict[str, tuple[str | None, float]]]:
    """63 A main fuse, two 40 A rows of ten chargers; six 1-phase chargers, rotations mixed."""
    site = create_installation(
        owner,
        name="Cooperative car park",
        main_fuse_a=63,
        authorization_mode=AuthorizationMode.OPEN,
    )
    # With every charger cut off, 20 chargers at 6 A would need 120 A: these sites use 0 A
    # (a charger that loses its connection pauses), the only failsafe this tree carries.
    site.failsafe_current_a = 0
    site.save()
    rows = [
        Circuit.objects.create(
            installation=site, parent=site.main_fuse, name=name, max_current_a=40
        )
        for name in ("Row A", "Row B")
    ]
    rotations = ("L1L2L3", "L2L3L1", "L3L1L2")
    for n in range(20):
        charger, _ = register_charger(
            circuit=rows[n % 2],
            name=f"P{n:02d}",
            ocpp_identity=f"E2E-{n:02d}",
            phases=1 if n % 10 in (3, 6, 9) else 3,
            phase_rotation=rotations[n % 3],
            max_current_a=32 if n % 2 else 16,
        )
        charger.set_ocpp_password(PASSWORD)
        charger.save(update_fields=["ocpp_password_hash"])
    fuses = {site.main_fuse.name: (None, 63.0)}
    fuses.update({row.name: (site.main_fuse.name, 40.0) for row in rows})
    return site.pk, fuses


@pytest.mark.django_db(transaction=True)
def test_twenty_chargers_on_63_amperes_never_overload_a_fuse_and_every_car_charges() -> None:
    owner = User.objects.create_user(email="coop@example.com", password="x", name="Coop Owner")
    site_id, fuses = _site(owner)
    wiring = {
        c.ocpp_identity: (c.circuit.name, c.phase_rotation)
        for c in Charger.objects.select_related("circuit")
    }
    get_redis().delete("celery")  # solves queued by earlier tests are not ours

    bridge = start_bridge()
    sim_loop = LoopThread("e2e-fleet")
    worker = start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30)
    worker.__enter__()
    sweeping = threading.Event()
    try:
        settings = SimSettings(
            url=f"ws://127.0.0.1:{bridge.bridge.port}/ocpp",
            speed=60,
            meter_interval_s=2,
            ws_ping_interval_s=0,
            initial_occupancy=0.3,
            mean_idle_s=15 * 60,  # simulated: a free bay gets its next car within ~15 s
            dwell_s=(20 * 60, 60 * 60),
            tick_s=0.2,
            reconnect_s=(0.2, 1.0),
            response_timeout_s=10,
            seed=7,
        )
        fleet = Fleet(specs_from_database(PASSWORD, prefix="E2E-"), settings)
        running = asyncio.run_coroutine_threadsafe(
            fleet.run(ramp_s=1, handle_signals=False), sim_loop.loop
        )

        def sweep() -> None:  # beat's part: the periodic solve
            while not sweeping.wait(3):
                tasks.balance_installation.delay(site_id, "sweep", "periodic sweep")

        threading.Thread(target=sweep, daemon=True).start()
        # Measure from the moment every charger has its failsafe and a limit of ours (before
        # that a charger offers its hardware maximum, as a brand-new installation does).
        eventually(
            lambda: (
                Charger.objects.filter(
                    installation_id=site_id, failsafe_sent_a=0, is_online=True
                ).count()
                == 20
            ),
            timeout=30,
        )
        time.sleep(3)
        watch = _watch(fleet, wiring, fuses, RUN_S)
    finally:
        sweeping.set()
        sim_loop.loop.call_soon_threadsafe(fleet.request_stop, 2)
        try:
            running.result(timeout=60)
        finally:
            worker.__exit__(None, None, None)
            sim_loop.close()
            stop_bridge(bridge)

    assert watch.samples > RUN_S / SAMPLE_S * 0.8
    assert watch.overloads == [], watch.overloads[:5]
    # The available current is used: the main fuse gets close to its limit at busy moments.
    assert watch.worst_margin_a["Main fuse"] < 10, watch.worst_margin_a
    # Every car that wanted current for a while got some: none starved while others charged.
    wanted = {
        cid for cid, s in watch.waiting_seconds.items() if s + watch.charging_seconds[cid] > 8
    }
    assert wanted, "no car stayed long enough to judge"
    starved = sorted(cid for cid in wanted if watch.charging_seconds[cid] == 0)
    assert starved == [], (starved, dict(watch.waiting_seconds))
    sessions = ChargeSession.objects.filter(charger__installation_id=site_id)
    assert sessions.count() >= 10


def _watch(
    fleet: Fleet,
    wiring: dict[str, tuple[str, str]],
    fuses: dict[str, tuple[str | None, float]],
    run_s: float,
) -> Watch:
    """Sample every simulated car's draw; record fuse margins, overloads and waiting cars."""
    watch = Watch()
    over_before: set[tuple[str, int]] = set()
    deadline = time.monotonic() + run_s
    while time.monotonic() < deadline:
        loads = {name: [0.0, 0.0, 0.0] for name in fuses}
        for simulated in fleet.chargers:
            station = simulated.station
            circuit, rotation = wiring[station.spec.identity]
            phases = [int(rotation[i + 1]) - 1 for i in range(0, 6, 2)]
            for connector in list(station.connectors.values()):
                car = connector.car
                if car is None or connector.transaction is None:
                    continue
                currents = station.phase_currents(connector)
                fuse: str | None = circuit
                while fuse is not None:
                    for charger_phase, amps in enumerate(currents):
                        loads[fuse][phases[charger_phase]] += amps
                    fuse = fuses[fuse][0]
                key = f"{station.spec.identity}/{connector.connector_id}"
                if car.finished:
                    continue
                if car.current_a > 0.5:
                    watch.charging_seconds[key] += SAMPLE_S
                else:
                    watch.waiting_seconds[key] += SAMPLE_S
        over_now = set()
        for name, load in loads.items():
            limit = fuses[name][1]
            margin = min(limit - amps for amps in load)
            watch.worst_margin_a[name] = min(watch.worst_margin_a.get(name, limit), margin)
            for phase, amps in enumerate(load):
                if amps > limit + ROUNDING_A:
                    over_now.add((name, phase))
                    if (name, phase) in over_before:
                        watch.overloads.append((time.monotonic(), name, phase, round(amps, 2)))
        over_before = over_now
        watch.samples += 1
        time.sleep(SAMPLE_S)
    return watch
