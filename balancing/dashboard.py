"""What balancing is doing at one installation now: the read model of the Load tab and its API.

``load_dashboard`` reads once (``service.build_scenario``: the numbers the engine sees, the main
fuse's limit following a live available current while it is valid), adds names, live power and
the latest decisions, and ``compose_dashboard`` (pure) turns that into plain dataclasses:

- per fuse and installation phase: the live draw of every charger below it (plus base load)
  against the limit, and what balancing currently allows the cars below it;
- per charger: its allocation, live draw on the installation phases it is wired to, and its state
  (charging, paused and why, finished, offline at failsafe, no car);
- the latest decisions, their notes reworded with circuit and charger names (``notes``).

Who sees what is decided by the querysets the caller passes (restricted to the user): fuses and
chargers outside them are left out, but still count in the loads of the fuses above them; a note
about a charger the user may not see is dropped, a circuit the user may not see is "a fuse".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from balancing.engine.notes import Note, NoteWriter
from balancing.models import BalancingDecision, BalancingTrigger
from balancing.service import build_scenario, rotation_indexes, to_installation_phases
from commands import routing
from installations.models import Installation
from portal.tenancy import assert_restricted

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
        return _percent(self.load_a, self.limit_a)

    @property
    def allowed_percent(self) -> float:
        return _percent(max(self.allowed_a, self.load_a), self.limit_a)

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
        return _percent(self.draw_a, self.allocated_a or 0.0)


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


# ---------- Reading ----------


def load_dashboard(
    installation: Installation,
    *,
    circuits: QuerySet[Any],
    chargers: QuerySet[Any],
    decisions: QuerySet[Any] | None,
    decision_count: int = DEFAULT_DECISION_COUNT,
    now: datetime | None = None,
) -> LoadDashboard:
    """The dashboard of ``installation`` as the user behind the restricted querysets sees it.

    ``circuits``, ``chargers``, ``decisions``: the user's restricted querysets (any
    installation; they are filtered here). ``decisions=None``: no decision list.
    A constant number of queries and two Redis round trips, whatever the size of the site.
    """
    for queryset in (circuits, chargers) if decisions is None else (circuits, chargers, decisions):
        assert_restricted(queryset)  # who sees what is the caller's gate; never skip it
    now = now or timezone.now()
    scenario = build_scenario(installation, now)
    circuit_rows = list(
        circuits.filter(installation=installation)
        .order_by()
        .values("id", "name", "parent_id", "max_current_a")
    )
    charger_rows = list(
        chargers.filter(installation=installation)
        .order_by("name", "id")
        .distinct()
        .values("id", "name", "ocpp_identity", "circuit_id", "allocated_phases")
    )
    live = routing.live_states([row["id"] for row in charger_rows])
    latest = (
        BalancingDecision.objects.filter(installation=installation)  # internal: per-charger state
        .order_by("-created_at", "-id")
        .values("created_at")
        .annotate(
            paused=KeyTransform("paused", "result"),
            finished=KeyTransform("finished", "result"),
            notes=KeyTransform("notes", "result"),
        )
        .first()
    )
    decision_rows: list[dict[str, Any]] = []
    if decisions is not None:
        decision_rows = list(
            decisions.filter(installation=installation)
            .order_by("-created_at", "-id")
            .values("id", "created_at", "trigger", "reason", "solve_ms", "commands_sent")
            .annotate(notes=KeyTransform("notes", "result"))[:decision_count]
        )
    return compose_dashboard(
        installation=installation,
        scenario=scenario,
        circuits=circuit_rows,
        chargers=charger_rows,
        live=live,
        latest=latest,
        decisions=decision_rows,
        now=now,
    )


# ---------- Composing (pure) ----------


def compose_dashboard(
    *,
    installation: Installation,
    scenario: Mapping[str, Any],
    circuits: list[dict[str, Any]],
    chargers: list[dict[str, Any]],
    live: Mapping[int, routing.LiveState],
    latest: Mapping[str, Any] | None,
    decisions: list[dict[str, Any]],
    now: datetime,
) -> LoadDashboard:
    """Combine the engine's snapshot with names, live states and decisions (no I/O).

    ``live``: the live states of the chargers in ``chargers``, by id: their power, and their
    currents where the snapshot withholds a measurement from the engine (just after a new
    limit, before the car has had time to follow it), so a bar does not drop to zero meanwhile.
    """
    voltage = float(scenario["installation"]["voltage"])
    failsafe = float(scenario["installation"]["failsafe_current"] or 0)
    fuse_specs = {fuse["id"]: fuse for fuse in scenario["fuses"]}
    by_identity = {entry["id"]: entry for entry in scenario["chargers"]}
    live_by_identity = {row["ocpp_identity"]: live.get(row["id"]) for row in chargers}
    measured = {
        entry["id"]: _measured(entry, live_by_identity.get(entry["id"]))
        for entry in scenario["chargers"]
    }
    loads, allowed, counts = _fuse_sums(scenario, measured, failsafe)

    visible_chargers = {row["ocpp_identity"]: row for row in chargers}
    writer = NoteWriter(
        circuits={row["id"]: row["name"] for row in circuits},
        chargers={identity: (row["id"], row["name"]) for identity, row in visible_chargers.items()},
        known_chargers=set(by_identity),
    )

    fuses = _fuse_loads(installation, circuits, fuse_specs, loads, allowed, counts)
    latest = latest or {}
    charger_loads = _charger_loads(
        chargers, by_identity, measured, live, latest, writer, failsafe, voltage
    )
    decision_list = [_decision_row(row, writer) for row in decisions]
    live_available = installation.live_available_current_a(now)
    return LoadDashboard(
        installation_id=installation.pk,
        generated_at=now,
        phase_count=_phase_count(installation),
        voltage_v=int(voltage),
        failsafe_current_a=failsafe,
        live_available_a=live_available,
        live_available_until=installation.available_current_valid_until if live_available else None,
        fuses=fuses,
        chargers=charger_loads,
        decisions=decision_list,
        last_decision_at=latest.get("created_at"),
        totals={
            "power_w": float(sum(c.power_w for c in charger_loads)),
            "power_kw": round(sum(c.power_w for c in charger_loads) / 1000, 1),
            "charging": float(sum(c.state == ChargerState.CHARGING for c in charger_loads)),
            "paused": float(sum(c.state == ChargerState.PAUSED for c in charger_loads)),
            "cars": float(sum(c.car_connected for c in charger_loads)),
        },
    )


def _fuse_loads(
    installation: Installation,
    circuits: list[dict[str, Any]],
    fuse_specs: Mapping[str, Mapping[str, Any]],
    loads: Mapping[str, list[float]],
    allowed: Mapping[str, list[float]],
    counts: Mapping[str, int],
) -> list[FuseLoad]:
    """Each fuse of the snapshot, in tree order: draw, allowance and limit per phase."""
    fuses = []
    for row, depth in _tree_order(circuits):
        spec = fuse_specs.get(f"circuit-{row['id']}")
        if spec is None:  # created after the snapshot
            continue
        key = spec["id"]
        limits = [float(value) for value in spec["limit"]]
        fuses.append(
            FuseLoad(
                id=row["id"],
                name=row["name"],
                parent_id=row["parent_id"],
                depth=depth,
                rating_a=float(row["max_current_a"]),
                live_limited=row["parent_id"] is None
                and any(limit < float(row["max_current_a"]) for limit in limits),
                charger_count=counts.get(key, 0),
                phases=[
                    PhaseLoad(
                        phase=PHASE_NAMES[i],
                        load_a=round(loads[key][i], 1),
                        allowed_a=round(allowed[key][i], 1),
                        limit_a=limits[i],
                    )
                    for i in range(_phase_count(installation))
                ],
            )
        )
    return fuses


def _charger_loads(
    chargers: list[dict[str, Any]],
    by_identity: Mapping[str, Mapping[str, Any]],
    measured: Mapping[str, list[float]],
    live: Mapping[int, routing.LiveState],
    latest: Mapping[str, Any],
    writer: NoteWriter,
    failsafe: float,
    voltage: float,
) -> list[ChargerLoad]:
    """Each charger of the snapshot: allowance, draw, state and the reason for it."""
    paused = set(latest.get("paused") or [])
    finished = set(latest.get("finished") or [])
    notes_by_charger: dict[int, list[Note]] = {}
    for raw in latest.get("notes") or []:
        note = writer(raw)
        if note is not None and note.charger_id is not None:
            notes_by_charger.setdefault(note.charger_id, []).append(note)

    charger_loads = []
    for row in chargers:
        entry = by_identity.get(row["ocpp_identity"])
        if entry is None:
            continue
        draw = _draw(entry, measured[entry["id"]])
        state_now = live.get(row["id"])
        live_power = state_now.power_w if state_now is not None else None
        allocated_a = entry.get("current_limit")  # what the charger applies now
        state, reason = _state(
            entry,
            allocated_a=allocated_a,
            paused=row["ocpp_identity"] in paused,
            finished=row["ocpp_identity"] in finished,
            notes=notes_by_charger.get(row["id"], []),
            failsafe_a=failsafe,
        )
        charger_loads.append(
            ChargerLoad(
                id=row["id"],
                name=row["name"],
                ocpp_identity=row["ocpp_identity"],
                fuse_id=row["circuit_id"],
                fuse_name=writer.circuits.get(row["circuit_id"], ""),
                state=state,
                reason=reason,
                online=bool(entry["online"]),
                car_connected=bool(entry["car_connected"]),
                allocated_a=allocated_a,
                allocated_phases=row["allocated_phases"],
                draw=draw,
                power_w=round(
                    live_power
                    if live_power is not None
                    else sum(d.current_a for d in draw) * voltage
                ),
                session_energy_wh=float(entry.get("energy_wh") or 0),
                phases=int(entry["phases"]),
                priority=int(entry["priority"]),
            )
        )
    return charger_loads


def _decision_row(row: Mapping[str, Any], writer: NoteWriter) -> DecisionRow:
    return DecisionRow(
        id=row["id"],
        created_at=row["created_at"],
        trigger=row["trigger"],
        trigger_label=_trigger_label(row["trigger"]),
        reason=row["reason"],
        solve_ms=round(float(row["solve_ms"]), 2),
        commands_sent=row["commands_sent"],
        notes=[note for note in map(writer, row.get("notes") or []) if note is not None],
    )


def _phase_count(installation: Installation) -> int:
    return 1 if installation.phases == 1 else 3


def _percent(value: float, limit: float) -> float:
    if limit <= 0:
        return 100.0 if value > 0 else 0.0
    return round(min(100.0, max(0.0, 100.0 * value / limit)), 1)


def _trigger_label(trigger: str) -> str:
    try:
        return str(BalancingTrigger(trigger).label)
    except ValueError:
        return trigger


def _used_phases(entry: Mapping[str, Any], mode: int | None = None) -> list[int]:
    """Installation phase indexes a charger draws on (``mode``: how many phases are in use)."""
    count = min(int(entry["phases"]), mode or int(entry["phases"]))
    return rotation_indexes(entry["rotation"])[:count]


def _measured(entry: Mapping[str, Any], state: routing.LiveState | None) -> list[float]:
    """Current per installation phase: the engine's measurement, else the live one, else 0."""
    if entry.get("measured") is not None:
        return [float(value or 0) for value in entry["measured"]]
    if state is not None:
        return to_installation_phases(state.current_a, entry["rotation"])
    return [0.0, 0.0, 0.0]


def _fuse_sums(
    scenario: Mapping[str, Any], measured_by_id: Mapping[str, list[float]], failsafe_a: float
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int]]:
    """Per fuse: live load, allowed load (per phase) and the number of chargers below it."""
    parents = {fuse["id"]: fuse["parent"] for fuse in scenario["fuses"]}
    loads = {
        fuse["id"]: [float(v) for v in (fuse.get("base_load") or [0, 0, 0])]
        for fuse in scenario["fuses"]
    }
    allowed = {key: list(values) for key, values in loads.items()}
    counts: dict[str, int] = {}
    for entry in scenario["chargers"]:
        measured = measured_by_id[entry["id"]]
        grant = [0.0, 0.0, 0.0]
        mode = entry.get("car_phases") or entry.get("active_phases")
        if entry["car_connected"] and not entry["online"]:
            for phase in _used_phases(entry, mode):
                grant[phase] = failsafe_a
        elif entry["car_connected"] and entry.get("current_limit"):
            for phase in _used_phases(entry, mode):
                grant[phase] = float(entry["current_limit"])
        node, hops = entry["fuse"], 0
        while node is not None and node in loads and hops <= len(loads):
            counts[node] = counts.get(node, 0) + 1
            for phase in range(3):
                loads[node][phase] += measured[phase]
                # What it may draw: the larger of its allowance and what it draws now.
                allowed[node][phase] += max(grant[phase], measured[phase])
            node, hops = parents.get(node), hops + 1
    return loads, allowed, counts


def _tree_order(circuits: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Circuits depth-first, children by name; a circuit whose parent is hidden is a root."""
    rows = list(circuits)
    known = {row["id"] for row in rows}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in known else None
        children.setdefault(parent, []).append(row)
    ordered: list[tuple[dict[str, Any], int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: (r["name"].lower(), r["id"])):
            ordered.append((row, depth))
            if depth < 50:
                walk(row["id"], depth + 1)

    walk(None, 0)
    return ordered


def _draw(entry: Mapping[str, Any], measured: list[float]) -> list[PhaseDraw]:
    return [
        PhaseDraw(PHASE_NAMES[phase], round(measured[phase], 1)) for phase in _used_phases(entry)
    ]


def _state(
    entry: Mapping[str, Any],
    *,
    allocated_a: float | None,
    paused: bool,
    finished: bool,
    notes: list[Note],
    failsafe_a: float,
) -> tuple[ChargerState, str]:
    """The charger's state now, and the reason in words."""
    if not entry["online"]:
        if entry["car_connected"]:
            return (
                ChargerState.OFFLINE_FAILSAFE,
                f"Unreachable: it falls back to {failsafe_a:g} A by itself, "
                "and that current is kept free for it.",
            )
        return ChargerState.OFFLINE, "Unreachable."
    if not entry["car_connected"]:
        return ChargerState.NO_CAR, ""
    by_kind = {note.kind: note.text for note in reversed(notes)}
    if finished:
        return ChargerState.FINISHED, "The car takes no current: its battery is probably full."
    if paused or allocated_a == 0:
        text = by_kind.get("paused", "")
        _, _, why = text.partition(" paused: ")
        return ChargerState.PAUSED, _sentence(why) if why else "There is no room for it now."
    if allocated_a is None:
        return ChargerState.WAITING, "Balancing has not given it a limit yet."
    for kind in ("phases", "held"):
        if kind in by_kind:
            return ChargerState.CHARGING, _sentence(by_kind[kind].split(" ", 1)[-1])
    return ChargerState.CHARGING, ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".") if text else ""
