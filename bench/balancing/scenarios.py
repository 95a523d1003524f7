"""Seeded random snapshots in the contract's JSON, shared by the benchmark and the tests.

Every generator takes a `random.Random`, so a seed names a snapshot forever. The snapshots are
deliberately mixed: 1- and 3-phase chargers on all rotations, unknown and known car phases,
cars that draw less than their limit, finished cars, offline chargers, priorities, chargers
that can switch phases, and an optional phase-imbalance limit.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ROTATIONS_3P = ("L1L2L3", "L2L3L1", "L3L1L2", "L1L3L2", "L2L1L3", "L3L2L1")
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}


def iso(moment: datetime) -> str:
    """The contract's timestamp form."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_charger(
    rng: random.Random, charger_id: str, fuse_id: str, *, offline_share: float = 0.04
) -> dict[str, Any]:
    """One charger with a plausible car (or none) and a measurement consistent with it."""
    three_phase = rng.random() < 0.75
    rotation = rng.choice(ROTATIONS_3P)
    if not three_phase and rng.random() < 0.5:
        rotation = rotation[:2]
    min_current = rng.choice((6, 6, 6, 8, 10))
    max_current = rng.choice((16, 16, 32)) if three_phase else rng.choice((16, 32))
    connected = rng.random() < 0.85
    online = rng.random() >= offline_share
    car_phases_true = rng.choice((3, 3, 1, 2)) if three_phase else 1
    known = rng.random() < 0.5
    current_limit = rng.choice((0, min_current, 10, 16, max_current))
    current_limit = min(current_limit, max_current)
    behaviour = rng.random()
    if behaviour < 0.15:
        car_max = 0.0  # finished
    elif behaviour < 0.3:
        car_max = 10.0  # car capped at 10 A
    else:
        car_max = 99.0
    draw = min(float(current_limit), car_max) if current_limit >= min_current else 0.0
    measured = [0.0, 0.0, 0.0]
    if connected and online:
        phases = [PHASE_INDEX[rotation[2 * k : 2 * k + 2]] for k in range(len(rotation) // 2)]
        for phase in phases[: (car_phases_true if three_phase else 1)]:
            measured[phase] = round(max(0.0, draw - rng.random() * 0.6), 1)
    return {
        "id": charger_id,
        "fuse": fuse_id,
        "phases": 3 if three_phase else 1,
        "rotation": rotation,
        "min_current": min_current,
        "max_current": max_current,
        "online": online,
        "car_connected": connected,
        "car_phases": car_phases_true if (known and connected) else None,
        "measured": measured,
        "current_limit": current_limit,
        "priority": 1 if rng.random() < 0.1 else 0,
        "connected_since": iso(NOW - timedelta(minutes=rng.randrange(1, 600))),
        "energy_wh": round(rng.random() * 30000),
        "can_switch_phases": three_phase and rng.random() < 0.2,
    }


def depot(
    chargers: int,
    circuits: int,
    *,
    seed: int = 0,
    imbalance_a: float | None = None,
    amps_per_charger: float = 5.0,
) -> dict[str, Any]:
    """A depot: main fuse, feeders, `circuits` circuits, `chargers` chargers spread over them.

    Each circuit gets `amps_per_charger` per phase per charger (at least 32 A): at the default
    5 A some cars must be paused (most minimums are 6 A), the interesting case.
    """
    rng = random.Random(seed)
    feeders = max(1, round(circuits**0.5))
    per_circuit = max(1, chargers // circuits)
    circuit_limit = max(32, round(per_circuit * amps_per_charger))
    fuses = [
        {
            "id": "main",
            "parent": None,
            "limit": [circuits * circuit_limit * 0.5] * 3,
            "base_load": [rng.uniform(5, 40) for _ in range(3)],
        }
    ]
    for feeder in range(feeders):
        share = circuits / feeders
        fuses.append(
            {
                "id": f"feeder-{feeder:02d}",
                "parent": "main",
                "limit": [round(share * circuit_limit * 0.7)] * 3,
            }
        )
    for circuit in range(circuits):
        fuses.append(
            {
                "id": f"circuit-{circuit:03d}",
                "parent": f"feeder-{circuit % feeders:02d}",
                "limit": [circuit_limit] * 3,
            }
        )
    charger_list = [
        random_charger(rng, f"cp-{number:05d}", f"circuit-{number % circuits:03d}")
        for number in range(chargers)
    ]
    return {
        "now": iso(NOW),
        "installation": {
            "id": f"depot-{chargers}",
            "voltage": 230,
            "max_phase_imbalance": imbalance_a,
            "failsafe_current": 6,
        },
        "fuses": fuses,
        "chargers": charger_list,
    }


def small_site(rng: random.Random) -> dict[str, Any]:
    """A small random site (1-4 fuses, 2-12 chargers) with tight fuses: for exact comparison."""
    fuse_count = rng.randint(1, 4)
    fuses: list[dict[str, Any]] = []
    for number in range(fuse_count):
        parent = None if number == 0 else fuses[rng.randrange(number)]["id"]
        limit = [rng.choice((16, 20, 25, 32, 40, 50, 63)) for _ in range(3)]
        if rng.random() < 0.5:
            limit = [limit[0]] * 3
        fuse: dict[str, Any] = {"id": f"f{number}", "parent": parent, "limit": limit}
        if rng.random() < 0.4:
            fuse["base_load"] = [round(rng.uniform(0, 10), 1) for _ in range(3)]
        fuses.append(fuse)
    chargers = [
        random_charger(rng, f"cp-{number:02d}", rng.choice(fuses)["id"], offline_share=0.08)
        for number in range(rng.randint(2, 12))
    ]
    imbalance = rng.choice((None, None, 16.0, 20.0, 32.0))
    return {
        "now": iso(NOW),
        "installation": {
            "id": "site",
            "voltage": 230,
            "max_phase_imbalance": imbalance,
            "failsafe_current": 6,
        },
        "fuses": fuses,
        "chargers": chargers,
    }


# --- Hard cases (issue #11 items 6 and 7) --------------------------------------------------------

HARD_KINDS = ("phase_overload", "failsafe_overload", "imbalance_priorities", "offline_tight")
PHASE_NAMES = ("L1", "L2", "L3")


def hard_charger(
    rng: random.Random,
    charger_id: str,
    fuse_id: str,
    *,
    phase: int | None = None,
    online: bool = True,
    priority: int = 0,
) -> dict[str, Any]:
    """A charger with a car for the hard cases. With `phase`, a 1-phase load on that phase: a
    1-phase charger, or a 3-phase charger whose car is known (or measured) to use 1 phase, wired
    with that phase first. Without it, a 3-phase charger whose car may use 1, 2 or 3 phases,
    known or not, some able to switch to 1 phase."""
    min_current = rng.choice((6, 6, 6, 8, 10))
    if phase is not None:
        first = PHASE_NAMES[phase]
        others = [name for name in PHASE_NAMES if name != first]
        rng.shuffle(others)
        one_phase_charger = rng.random() < 0.6
        phases = 1 if one_phase_charger else 3
        rotation = first if one_phase_charger and rng.random() < 0.5 else first + "".join(others)
        car_phases_true = 1
        car_phases = None if one_phase_charger else rng.choice((1, None))
        can_switch = False
    else:
        phases = 3
        rotation = rng.choice(ROTATIONS_3P)
        car_phases_true = rng.choice((3, 3, 1, 2))
        car_phases = rng.choice((car_phases_true, None))
        can_switch = rng.random() < 0.25
    max_current = rng.choice((16, 16, 32))
    current_limit = min(rng.choice((0, 0, min_current, 10, 16)), max_current)
    behaviour = rng.random()
    car_max = 0.0 if behaviour < 0.08 else 10.0 if behaviour < 0.2 else 99.0
    draw = min(float(current_limit), car_max) if current_limit >= min_current else 0.0
    measured = [0.0, 0.0, 0.0]
    if online:
        wired = [PHASE_INDEX[rotation[2 * k : 2 * k + 2]] for k in range(len(rotation) // 2)]
        for loaded in wired[:car_phases_true]:
            measured[loaded] = round(max(0.0, draw - rng.random() * 0.6), 1)
    return {
        "id": charger_id,
        "fuse": fuse_id,
        "phases": phases,
        "rotation": rotation,
        "min_current": min_current,
        "max_current": max_current,
        "online": online,
        "car_connected": True,
        "car_phases": car_phases,
        "measured": measured,
        "current_limit": current_limit if online else None,
        "priority": priority,
        "connected_since": iso(NOW - timedelta(minutes=rng.randrange(1, 600))),
        "energy_wh": round(rng.random() * 30000),
        "can_switch_phases": can_switch,
    }


def hard_site(rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    """A small site built around one of `HARD_KINDS` (random when `kind` is None):

    - ``phase_overload``: one phase of one fuse is already over its limit by base load
      (0.1-2 A), with 1-phase cars on the other phases and 3-phase cars beside them;
    - ``failsafe_overload``: offline chargers' failsafe reservation on one phase of a fuse is
      above that phase's limit;
    - ``imbalance_priorities``: a tight phase-imbalance limit (6-16 A), 2 or 3 priority levels,
      mostly 1-phase cars on all phases;
    - ``offline_tight``: tight fuses with a third of the chargers offline with a car.
    """
    kind = kind or rng.choice(HARD_KINDS)
    main_limit = rng.choice((25, 32, 40, 50, 63))
    fuses: list[dict[str, Any]] = [{"id": "main", "parent": None, "limit": [main_limit] * 3}]
    if rng.random() < 0.6:
        fuses.append({"id": "sub", "parent": "main", "limit": [rng.choice((16, 20, 25, 32))] * 3})
    target = rng.choice(fuses)
    imbalance = None
    levels = (0, 0, 0, 1)
    count = rng.randint(4, 12)
    chargers: list[dict[str, Any]] = []
    if kind == "phase_overload":
        phase = rng.randrange(3)
        base = [round(rng.uniform(0, 8), 1) for _ in range(3)]
        base[phase] = round(target["limit"][phase] + rng.uniform(0.1, 2.0), 1)
        target["base_load"] = base
        if target is not fuses[0]:
            # A fuse's base load includes the base load of the fuses below it.
            fuses[0]["base_load"] = [value + rng.uniform(0, 4) for value in base]
        imbalance = rng.choice((None, None, 16.0))
    elif kind == "failsafe_overload":
        phase = rng.randrange(3)
        target["limit"] = list(target["limit"])
        target["limit"][phase] = rng.choice((5, 8, 10, 11))
        for number in range(rng.randint(2, 3)):
            chargers.append(
                hard_charger(
                    rng, f"off-{number}", target["id"], phase=phase, online=False, priority=0
                )
            )
        imbalance = rng.choice((None, None, 20.0))
    elif kind == "imbalance_priorities":
        imbalance = rng.choice((6.0, 8.0, 10.0, 16.0))
        levels = rng.choice(((0, 1), (0, 1, 2), (0, 0, 1, 2)))
        count = rng.randint(5, 12)
    else:  # offline_tight
        for fuse in fuses:
            fuse["limit"] = [rng.choice((16, 20, 25))] * 3
        fuses[0]["limit"] = [max(fuses[0]["limit"][0], 20)] * 3
        imbalance = rng.choice((None, 16.0))
    one_phase_share = 0.7 if kind == "imbalance_priorities" else 0.5
    for number in range(count):
        fuse_id = target["id"] if rng.random() < 0.75 else rng.choice(fuses)["id"]
        phase = rng.randrange(3) if rng.random() < one_phase_share else None
        online = kind != "offline_tight" or rng.random() >= 0.35
        chargers.append(
            hard_charger(
                rng,
                f"cp-{number:02d}",
                fuse_id,
                phase=phase,
                online=online,
                priority=rng.choice(levels),
            )
        )
    return {
        "now": iso(NOW),
        "installation": {
            "id": f"hard-{kind}",
            "voltage": 230,
            "max_phase_imbalance": imbalance,
            "failsafe_current": 6,
        },
        "fuses": fuses,
        "chargers": chargers,
    }


def mid_site(rng: random.Random) -> dict[str, Any]:
    """A mid-size site beyond the engine's exact searches: a `depot` of 25-60 chargers on 1-4
    circuits, 3-4 A per charger per phase (many cars wait), an imbalance limit on half of them."""
    chargers = rng.randint(25, 60)
    return depot(
        chargers,
        rng.randint(1, 4),
        seed=rng.randrange(1_000_000),
        imbalance_a=rng.choice((None, 16.0)),
        amps_per_charger=rng.choice((3.0, 3.5, 4.0)),
    )
