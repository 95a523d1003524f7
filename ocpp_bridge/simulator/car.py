"""A car plugged into a charger: battery, on-board charger limits and the charging curve. Pure.

The model is what load balancing has to live with, so it is deliberately a little awkward:

- the on-board charger uses 1, 2 or 3 phases, whatever the charger offers (a 1-phase car on a
  3-phase charger draws on the charger's first phase only);
- it is capped by its own maximum current (many cars take at most 10, 16 or 32 A per phase);
- below ``min_current_a`` offered (IEC 61851: 6 A) it does not charge at all;
- it follows a new offered current within a few seconds (a ramp, faster down than up);
- near full the draw tapers linearly from ``taper_soc`` to a trickle, and once the target state
  of charge is reached it draws nothing, whatever it is offered.

Energy is conserved: what the meter counts (grid side) times ``efficiency`` is what the battery
gains. Time is in seconds, current in amperes per phase, energy in Wh.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NOMINAL_VOLTAGE_V = 230.0
IEC_MIN_CURRENT_A = 6.0
TRICKLE_A = 0.5  # the least a tapering car still draws before it stops at its target
RAMP_UP_A_PER_S = 4.0  # a car reaches 16 A from a standstill in 4 s
RAMP_DOWN_A_PER_S = 15.0  # and drops from 32 A to 6 A in under 2 s


@dataclass(frozen=True)
class CarModel:
    """A kind of car: its battery and on-board charger."""

    name: str
    battery_wh: float
    phases: int  # phases the on-board charger can use: 1, 2 or 3
    max_current_a: float  # per phase
    taper_soc: float = 0.8  # state of charge (0..1) where the draw starts to drop
    min_current_a: float = IEC_MIN_CURRENT_A
    efficiency: float = 0.9  # battery energy gained per Wh metered


# A mix like a Nordic car park's: mostly 3-phase 16 A cars, some 1-phase, some capped low.
CATALOGUE: tuple[tuple[CarModel, float], ...] = (
    (CarModel("Hatchback 3x16A", 58_000, 3, 16, taper_soc=0.80), 0.30),
    (CarModel("SUV 3x16A", 77_000, 3, 16, taper_soc=0.82), 0.20),
    (CarModel("Saloon 3x32A", 100_000, 3, 32, taper_soc=0.85), 0.10),
    (CarModel("City car 3x32A", 52_000, 3, 32, taper_soc=0.80), 0.05),
    (CarModel("Compact 1x32A", 40_000, 1, 32, taper_soc=0.75), 0.12),
    (CarModel("Plug-in hybrid 1x16A", 13_000, 1, 16, taper_soc=0.90), 0.10),
    (CarModel("Older compact 1x10A", 24_000, 1, 10, taper_soc=0.80), 0.08),
    (CarModel("Van 2x16A", 75_000, 2, 16, taper_soc=0.80), 0.05),
)


@dataclass(frozen=True)
class Draw:
    """What a car drew over a step: energy from the grid and its per-phase current at the end."""

    energy_wh: float
    current_a: float
    phases: int


@dataclass
class Car:
    """One car in one visit: its state of charge, where it stops, and what it draws right now."""

    model: CarModel
    soc: float  # 0..1
    target_soc: float  # 0..1, where the car (or its driver's setting) stops charging
    id_tag: str = ""
    current_a: float = 0.0  # per phase, right now

    @property
    def finished(self) -> bool:
        return self.soc >= self.target_soc

    def phases_on(self, charger_phases: int) -> int:
        """How many phases the car uses on a charger offering ``charger_phases``."""
        return max(1, min(self.model.phases, charger_phases))

    def wanted_current_a(self) -> float:
        """What the car would draw per phase with no limit: its cap, tapering near full."""
        if self.finished:
            return 0.0
        model = self.model
        if self.soc <= model.taper_soc:
            return model.max_current_a
        fraction = (1.0 - self.soc) / (1.0 - model.taper_soc)
        return max(TRICKLE_A, model.max_current_a * fraction)

    def target_current_a(self, offered_a: float) -> float:
        """The per-phase current the car heads for when offered ``offered_a``."""
        if offered_a < self.model.min_current_a:
            return 0.0
        return min(offered_a, self.wanted_current_a())

    def step(
        self,
        offered_a: float,
        charger_phases: int,
        dt_s: float,
        voltage_v: float = NOMINAL_VOLTAGE_V,
    ) -> Draw:
        """Charge for ``dt_s`` seconds at (at most) ``offered_a`` per phase; return what was drawn.

        The caller keeps steps short (seconds to a minute) so the taper is followed closely; the
        ramp towards the target current is integrated exactly within a step.
        """
        phases = self.phases_on(charger_phases)
        if dt_s <= 0:
            return Draw(0.0, self.current_a, phases)
        target = self.target_current_a(offered_a)
        start = self.current_a
        rate = RAMP_UP_A_PER_S if target > start else RAMP_DOWN_A_PER_S
        ramp_s = min(dt_s, abs(target - start) / rate)
        end_of_ramp = start + (rate * ramp_s if target > start else -rate * ramp_s)
        # Ampere-seconds: the ramp (a trapezoid) then the flat part at the target.
        ampere_seconds = (start + end_of_ramp) / 2 * ramp_s + target * (dt_s - ramp_s)
        end = target if ramp_s < dt_s else end_of_ramp
        energy_wh = ampere_seconds * voltage_v * phases / 3600.0
        room_wh = max(0.0, (self.target_soc - self.soc) * self.model.battery_wh)
        room_metered_wh = room_wh / self.model.efficiency
        if energy_wh >= room_metered_wh:
            # The battery reaches its target within this step: it takes just what fits, then stops.
            energy_wh = room_metered_wh
            self.soc = self.target_soc
            end = 0.0
        else:
            self.soc += energy_wh * self.model.efficiency / self.model.battery_wh
        self.current_a = end
        return Draw(energy_wh, end, phases)


def random_car(rng: random.Random, id_tag: str = "") -> Car:
    """A car from the catalogue with a plausible arrival state of charge and target."""
    models = [model for model, _ in CATALOGUE]
    weights = [weight for _, weight in CATALOGUE]
    model = rng.choices(models, weights)[0]
    soc = round(rng.uniform(0.10, 0.60), 3)
    target = rng.choice((0.8, 0.8, 0.9, 1.0, 1.0))
    return Car(model=model, soc=soc, target_soc=max(target, soc + 0.05), id_tag=id_tag)
