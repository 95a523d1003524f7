"""What each connected car wants: its phases, its useful current range and its place in line.

This is where the snapshot's measurements are read (rules 2 and 4 of docs/BALANCING.md):

- **Phases.** A 1-phase charger, or a charger switched to 1 phase, loads the first phase of its
  rotation. A 3-phase charger loads the car's phases: `car_phases` when given, else the phases
  the measurement shows the car drawing on (only when that is unambiguous, see
  `tuning.PHASE_DETECT_MIN_DRAW_A`), else all three: the contract's worst case. A car on k < 3
  phases uses the first k phases of the rotation.
- **Held near its draw.** A car drawing clearly less than its limit (full battery, car capped at
  10 A, ...) is capped at its draw plus `tuning.HOLD_MARGIN_A`, never below its minimum, so the
  rest goes to other cars. A car that wants more draws up to that cap and is released at the
  next solve. (A snapshot taken before a car has ramped up to a new, higher limit makes it look
  held; it then climbs by the margin per solve: snapshots should follow a limit change by a few
  seconds.)
- **Finished.** A car allowed to charge that draws (almost) nothing, or one the service flags
  with ``car_finished`` (see `balancing.engine.model`) that still draws nothing, does not want current:
  it gets its minimum only from current no other car can use, else 0.
- **Rank.** Within a priority, cars are served in order of least energy received, then earliest
  arrival, then id. A car charging now counts `tuning.ROTATION_HYSTERESIS_WH` less energy; this
  is the rotation: a paused car takes over once the charging car is that far ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from balancing.engine import tuning
from balancing.engine.model import Charger
from balancing.engine.network import Network, Terms
from balancing.engine.units import ceil_da, floor_da


@dataclass(slots=True)
class CarDemand:
    """An online charger with a car connected, as the solver sees it. Never changed once built;
    not frozen because a frozen dataclass of this size costs 2 us more to build, 5 ms of a
    3,000-charger solve."""

    index: int
    charger: Charger
    # Installation phases drawn on in each phase mode the charger may use, ascending mode ...
    footprints: dict[int, tuple[int, ...]]
    # ... and the constraints of `balancing.engine.network` that each mode touches.
    terms: dict[int, Terms]
    min_da: int
    # The most this car can usefully take: its max_current, or less when held near its draw.
    cap_da: int
    wanting: bool
    finished: bool
    # Sort key: lower is served first (priority, rotation energy, arrival, id).
    rank: tuple[int, float, float, str]
    draw_a: float | None
    held: bool
    detected_phases: int | None


def assess(index: int, charger: Charger, now: datetime, network: Network) -> CarDemand:
    """Read one online charger with a car connected."""
    detected = None
    footprints: dict[int, tuple[int, ...]]
    if charger.phases == 1:
        footprints = {1: (charger.first_phase,)}
    else:
        car_phases = charger.car_phases
        # While switched to 1 phase the measurement says nothing about the car's own phases.
        if car_phases is None and charger.active_phases == 3:
            detected = detected_car_phases(charger)
            car_phases = detected
        footprint = charger.rotation[: car_phases or 3]
        # Modes in ascending order: the solver tries the one that takes the least room first.
        if charger.can_switch_phases and len(footprint) > 1:
            footprints = {1: (charger.first_phase,), 3: footprint}
        else:
            footprints = {3: footprint}

    mode_now = charger.active_phases if charger.active_phases in footprints else 3
    draw_a = _draw(charger, footprints[mode_now])
    min_da = ceil_da(charger.min_current_a)
    max_da = floor_da(charger.max_current_a)
    limit_a = charger.current_limit_a
    allowed = limit_a is not None and limit_a >= charger.min_current_a
    quiet = draw_a is not None and draw_a < tuning.FINISHED_DRAW_A
    finished = (quiet and allowed) or (charger.car_finished and (quiet or draw_a is None))
    held = (
        allowed
        and not finished
        and draw_a is not None
        and draw_a <= (limit_a or 0.0) - tuning.UNDERDRAW_A
    )
    cap_da = max_da
    if finished:
        cap_da = min_da
    elif held and draw_a is not None:
        cap_da = max(min_da, min(max_da, floor_da(draw_a + tuning.HOLD_MARGIN_A)))
    rotation_energy_wh = charger.energy_wh - (tuning.ROTATION_HYSTERESIS_WH if allowed else 0.0)
    arrival = charger.connected_since or now
    return CarDemand(
        index=index,
        charger=charger,
        footprints=footprints,
        terms=network.terms_by_mode(charger.fuse, footprints),
        min_da=min_da,
        cap_da=cap_da,
        # A car whose range has no 0.1 A step (min 6.05, max 6.05) cannot be given a valid limit.
        wanting=not finished and min_da <= max_da,
        finished=finished and min_da <= max_da,
        rank=(-charger.priority, rotation_energy_wh, arrival.timestamp(), charger.id),
        draw_a=draw_a,
        held=held,
        detected_phases=detected,
    )


def detected_car_phases(charger: Charger) -> int | None:
    """How many phases the measurement shows the car using, or None when it does not tell.

    The used phases must be the first ones of the rotation, as the contract's wiring implies;
    any other pattern (or a car barely drawing) is ambiguous and returns None.
    """
    measured = charger.measured_a
    if measured is None:
        return None
    first, second, third = charger.rotation
    draws = (measured[first], measured[second], measured[third])
    if max(draws) < tuning.PHASE_DETECT_MIN_DRAW_A:
        return None
    used = tuple(draw >= tuning.PHASE_UNUSED_BELOW_A for draw in draws)
    return _PREFIX_COUNT.get(used)


# Which patterns of used phases (in rotation order) are a prefix, and how long it is.
_PREFIX_COUNT: dict[tuple[bool, ...], int] = {
    (True, False, False): 1,
    (True, True, False): 2,
    (True, True, True): 3,
}


def _draw(charger: Charger, footprint: tuple[int, ...]) -> float | None:
    """The car's per-phase draw: the busiest of the phases it loads."""
    measured = charger.measured_a
    if measured is None:
        return None
    if len(footprint) == 1:
        return measured[footprint[0]]
    return max([measured[phase] for phase in footprint])
