"""Composing the Load tab (pure): the engine's snapshot plus names, live states and decisions.

Fuse loads per installation phase against their limits, each charger's allocation, draw and
state, and the latest decisions with their notes reworded (``NoteWriter``). No I/O: every input
is passed in by ``read.load_dashboard`` (or a test).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from balancing.dashboard.view import (
    PHASE_NAMES,
    ChargerLoad,
    ChargerState,
    DecisionRow,
    FuseLoad,
    LoadDashboard,
    PhaseDraw,
    PhaseLoad,
)
from balancing.engine.notes import Note, NoteWriter
from balancing.models import BalancingTrigger
from balancing.snapshot import rotation_indexes, to_installation_phases
from commands import routing
from installations.models import Installation


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


def measured_fuse_loads(
    scenario: Mapping[str, Any], live_by_identity: Mapping[str, routing.LiveState | None]
) -> dict[str, list[float]]:
    """Each fuse's draw per installation phase as the Load tab shows it: its base load plus the
    measured draw of every charger below it (``live_by_identity``: the live states of chargers
    whose measurement the snapshot withholds; ``balancing.watch`` reads it for overloads)."""
    measured = {
        entry["id"]: _measured(entry, live_by_identity.get(entry["id"]))
        for entry in scenario["chargers"]
    }
    failsafe = float(scenario["installation"]["failsafe_current"] or 0)
    return _fuse_sums(scenario, measured, failsafe)[0]


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
