"""What the Load tab shows: load levels, charger states and the dashboard's plain dataclasses.

No I/O; `compose` fills them, the page template and the API serializers read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from balancing.engine.notes import Note

PHASE_NAMES = ("L1", "L2", "L3")
NEAR_LIMIT = 0.8  # a phase above 80 % of its limit is shown as "near the limit"
AT_LIMIT = 0.95  # above 95 %: "at the limit"
DEFAULT_DECISION_COUNT = 8


class LoadLevel(StrEnum):
    OK = "ok"
    HIGH = "high"
    FULL = "full"
    OVER = "over"


def load_level(load_a: float, limit_a: float) -> LoadLevel:
    if limit_a <= 0:
        return LoadLevel.OVER if load_a > 0 else LoadLevel.OK
    ratio = load_a / limit_a
    if ratio > 1.0 + 1e-9:
        return LoadLevel.OVER
    if ratio >= AT_LIMIT:
        return LoadLevel.FULL
    return LoadLevel.HIGH if ratio >= NEAR_LIMIT else LoadLevel.OK


LEVEL_ORDER = list(LoadLevel)


class ChargerState(StrEnum):
    CHARGING = "charging"
    PAUSED = "paused"
    FINISHED = "finished"
    WAITING = "waiting"  # a car is plugged in, balancing has not given it a limit yet
    OFFLINE_FAILSAFE = "offline_failsafe"  # unreachable with a car: it applies the failsafe
    OFFLINE = "offline"
    NO_CAR = "no_car"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ChargerState.CHARGING: "Charging",
    ChargerState.PAUSED: "Paused",
    ChargerState.FINISHED: "Finished",
    ChargerState.WAITING: "Waiting",
    ChargerState.OFFLINE_FAILSAFE: "Offline, at failsafe",
    ChargerState.OFFLINE: "Offline",
    ChargerState.NO_CAR: "No car",
}


@dataclass(frozen=True)
class PhaseLoad:
    """One phase of one fuse: live draw, what balancing allows, the limit (A)."""

    phase: str
    load_a: float
    allowed_a: float
    limit_a: float

    @property
    def level(self) -> LoadLevel:
        return load_level(self.load_a, self.limit_a)

    @property
    def percent(self) -> float:
        return percent_of(self.load_a, self.limit_a)

    @property
    def allowed_percent(self) -> float:
        return percent_of(max(self.allowed_a, self.load_a), self.limit_a)

    @property
    def headroom_a(self) -> float:
        return round(self.limit_a - self.load_a, 1)


@dataclass(frozen=True)
class FuseLoad:
    """A circuit of the fuse tree with its per-phase load (``depth`` 0: the main fuse)."""

    id: int
    name: str
    parent_id: int | None
    depth: int
    rating_a: float
    live_limited: bool  # the main fuse's limit follows a live available current below its rating
    charger_count: int  # chargers below it, at any depth
    phases: list[PhaseLoad]

    @property
    def level(self) -> LoadLevel:
        return max((p.level for p in self.phases), key=LEVEL_ORDER.index, default=LoadLevel.OK)

    @property
    def busiest(self) -> PhaseLoad | None:
        """The phase closest to (or furthest above) its limit."""
        return max(
            self.phases, key=lambda p: p.load_a / p.limit_a if p.limit_a else 0, default=None
        )


@dataclass(frozen=True)
class PhaseDraw:
    phase: str
    current_a: float


@dataclass(frozen=True)
class ChargerLoad:
    """A charger: its allocation, live draw and what balancing is doing with it."""

    id: int
    name: str
    ocpp_identity: str
    fuse_id: int
    fuse_name: str  # "" when the reader may not see circuits
    state: ChargerState
    reason: str  # why, in words ("" when there is nothing to explain)
    online: bool
    car_connected: bool
    allocated_a: float | None  # the limit balancing last sent (None: nothing sent yet)
    allocated_phases: int | None
    draw: list[PhaseDraw]  # on the installation phases it is wired to
    power_w: float
    session_energy_wh: float
    phases: int
    priority: int

    @property
    def state_label(self) -> str:
        return self.state.label

    @property
    def power_kw(self) -> float:
        return round(self.power_w / 1000, 1)

    @property
    def session_energy_kwh(self) -> float:
        return round(self.session_energy_wh / 1000, 1)

    @property
    def draw_a(self) -> float:
        """The largest phase current it draws."""
        return max((d.current_a for d in self.draw), default=0.0)

    @property
    def draw_percent(self) -> float:
        """Its draw as a share of its allocation (0-100)."""
        return percent_of(self.draw_a, self.allocated_a or 0.0)


@dataclass(frozen=True)
class DecisionRow:
    id: int
    created_at: datetime
    trigger: str
    trigger_label: str
    reason: str
    solve_ms: float
    commands_sent: int
    notes: list[Note]


@dataclass(frozen=True)
class LoadDashboard:
    installation_id: int
    generated_at: datetime
    phase_count: int
    voltage_v: int
    failsafe_current_a: float
    live_available_a: list[float] | None  # from a meter / EMS, while valid
    live_available_until: datetime | None
    fuses: list[FuseLoad]
    chargers: list[ChargerLoad]
    decisions: list[DecisionRow]
    last_decision_at: datetime | None
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def main_fuse(self) -> FuseLoad | None:
        return next((fuse for fuse in self.fuses if fuse.parent_id is None), None)


def percent_of(value: float, limit: float) -> float:
    """``value`` as a share of ``limit`` (0-100, one decimal); any draw on a zero limit is 100."""
    if limit <= 0:
        return 100.0 if value > 0 else 0.0
    return round(min(100.0, max(0.0, 100.0 * value / limit)), 1)
