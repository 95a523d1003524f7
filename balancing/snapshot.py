"""The engine's snapshot of an installation (its input, docs/BALANCING.md plus the engine's
documented extensions), read from the database and Redis: the fuse tree with live available
current, each charger with its connectors' state, the live draw the engine may trust, the session,
an offline charger's limit still in force, and the caps, priorities and floors of upstream
profiles and charge modes (``balancing.folding``). ``build_scenario`` is the one reader: the live
loop (``balancing.service.balance``) and the Load tab (``balancing.dashboard``) both use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from balancing.engine import tuning
from balancing.folding import apply_cap, fold_mode
from chargers.choices import ConnectorStatus, SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from installations.models import Installation
from modes import inputs as mode_inputs
from upstream import caps as upstream_caps

# A car is plugged in while its connector is in one of these states. Not Reserved: a connector
# held for a driver (auth_access.reservations) has no car until it reports Preparing.
CAR_CONNECTED_STATUSES = {
    ConnectorStatus.PREPARING,
    ConnectorStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV,
    ConnectorStatus.SUSPENDED_EVSE,
    ConnectorStatus.FINISHING,
}
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}


def fuse_id(circuit_id: int) -> str:
    return f"circuit-{circuit_id}"


def rotation_indexes(rotation: str) -> list[int]:
    """Installation phase index of each charger phase: "L2L3L1" -> [1, 2, 0]."""
    return [PHASE_INDEX[rotation[i : i + 2]] for i in range(0, 6, 2)]


def to_installation_phases(charger_currents: list[float | None], rotation: str) -> list[float]:
    """Currents the charger reports on its own phases 1-3, placed on L1-L3 of the installation."""
    measured = [0.0, 0.0, 0.0]
    for charger_phase, installation_phase in enumerate(rotation_indexes(rotation)):
        value = charger_currents[charger_phase]
        measured[installation_phase] = float(value) if value is not None else 0.0
    return measured


def _main_fuse_limit(installation: Installation, rating_a: float, now: datetime) -> list[float]:
    available = installation.live_available_current_a(now)
    if not available:
        return [rating_a] * 3
    return [min(rating_a, value) for value in available]


def limit_ttl() -> timedelta:
    return timedelta(seconds=settings.BALANCING_LIMIT_TTL_SECONDS)


def limit_in_force(charger: Charger, now: datetime) -> bool:
    """Whether the balancing limit last sent is still valid on the charger (it expires)."""
    return charger.limit_sent_at is not None and charger.limit_sent_at + limit_ttl() > now


def _measurement(
    charger: Charger, state: routing.LiveState
) -> tuple[list[float] | None, int | None]:
    """The draw the engine may trust, and the car's phase count when only that can be trusted.

    A draw measured before the last limit (plus a ramp-up time) was sent says nothing about
    whether the car takes less than the new limit, so it is withheld; the phases it shows the car
    using still hold. No current measurand at all: unknown, not "drawing nothing".
    """
    if all(value is None for value in state.current_a):
        return None, None
    measured = to_installation_phases(state.current_a, charger.phase_rotation)
    ramp = timedelta(seconds=settings.BALANCING_RAMP_SECONDS)
    stale = (
        state.measured_at is not None
        and charger.limit_sent_at is not None
        and state.measured_at < charger.limit_sent_at + ramp
    )
    if not stale:
        return measured, None
    return None, _phases_in_use(measured, charger)


def _phases_in_use(measured: list[float], charger: Charger) -> int | None:
    """How many phases (in rotation order) the car draws on, when the draw shows it clearly."""
    draws = [measured[index] for index in rotation_indexes(charger.phase_rotation)]
    if charger.phases != 3 or max(draws) < tuning.PHASE_DETECT_MIN_DRAW_A:
        return None
    used = [draw >= tuning.PHASE_UNUSED_BELOW_A for draw in draws]
    count = sum(used)
    return count if used[:count] == [True] * count else None


def _reserve_expiring_limits(
    fuses: list[dict[str, Any]], circuits: list[Any], charger: Charger, failsafe_a: float
) -> None:
    """An offline charger keeps its last limit until that expires, then falls back to failsafe.
    The engine reserves the failsafe current; the rest of a higher limit still in force is
    counted as load on its fuse and every fuse above it (``base_load`` includes those below)."""
    excess = (charger.allocated_current_a or 0.0) - failsafe_a
    if excess <= 0:
        return
    by_id = {fuse["id"]: fuse for fuse in fuses}
    parents = {circuit.pk: circuit.parent_id for circuit in circuits}
    phases = rotation_indexes(charger.phase_rotation)[: charger.allocated_phases or charger.phases]
    node: int | None = charger.circuit_id
    while node is not None and fuse_id(node) in by_id:
        load = by_id[fuse_id(node)]["base_load"]
        for phase in phases:
            load[phase] = round(load[phase] + excess, 1)
        node = parents.get(node)


def build_scenario(
    installation: Installation, now: datetime | None = None, *, record: bool = False
) -> dict[str, Any]:
    """The engine's snapshot of ``installation``: fuse tree, chargers, live measurements, the
    cars' modes. ``record``: the live loop's solve, which stores what the modes decided (plans'
    statuses, surplus states); a reader (the Load tab) writes nothing."""
    now = now or timezone.now()
    circuits = list(installation.circuits.order_by("id"))
    chargers = list(
        installation.chargers.prefetch_related("connectors")
        .annotate(default_mode=F("charge_mode__mode"))  # modes.inputs: no query of its own
        .order_by("id")
    )
    states = routing.live_states([charger.pk for charger in chargers])
    sessions = {
        session.charger_id: session
        for session in ChargeSession.objects.filter(
            charger__in=chargers, status=SessionStatus.ACTIVE
        )
    }
    finished = _previously_finished(installation)
    in_use = {  # connector ids with a car, per charger
        charger.pk: {
            c.connector_id for c in charger.connectors.all() if c.status in CAR_CONNECTED_STATUSES
        }
        for charger in chargers
    }
    caps = upstream_caps.caps_of(chargers, in_use, voltage_v=installation.voltage_v, now=now)
    fuses = [
        {
            "id": fuse_id(circuit.pk),
            "parent": fuse_id(circuit.parent_id) if circuit.parent_id else None,
            "limit": _main_fuse_limit(installation, circuit.max_current_a, now)
            if circuit.parent_id is None
            else [circuit.max_current_a] * 3,
            "base_load": [0.0, 0.0, 0.0],
        }
        for circuit in circuits
    ]
    snapshot_chargers = []
    entries: dict[int, dict[str, Any]] = {}
    for charger in chargers:
        state = states[charger.pk]
        connected = any(c.status in CAR_CONNECTED_STATUSES for c in charger.connectors.all())
        session = sessions.get(charger.pk)
        online = state.online or charger.is_online
        measured, car_phases = _measurement(charger, state)
        if not online and connected and limit_in_force(charger, now):
            _reserve_expiring_limits(fuses, circuits, charger, installation.failsafe_current_a)
        entry: dict[str, Any] = {
            "id": charger.ocpp_identity,
            "fuse": fuse_id(charger.circuit_id),
            "phases": charger.phases,
            "rotation": charger.phase_rotation,
            "min_current": charger.min_current_a,
            "max_current": charger.max_current_a,
            "online": online,
            "car_connected": connected,
            "car_phases": car_phases,
            "measured": measured,
            # An expired limit is gone from the charger (it is at failsafe): no limit of ours.
            "current_limit": charger.allocated_current_a if limit_in_force(charger, now) else None,
            "priority": charger.priority,
            "connected_since": (session.started_at if session else now).isoformat(),
            "energy_wh": session.energy_wh if session else 0,
            "car_finished": connected and charger.ocpp_identity in finished,
        }
        if charger.can_switch_phases and charger.phases == 3:
            entry["can_switch_phases"] = True
            entry["active_phases"] = charger.allocated_phases or 3
        if charger.pk in caps:
            apply_cap(entry, caps[charger.pk][0], "upstream_cap")
        entries[charger.pk] = entry
        snapshot_chargers.append(entry)
    _apply_modes(installation, chargers, sessions, states, entries, fuses, now, record=record)
    return {
        "now": now.isoformat(),
        "installation": {
            "id": str(installation.pk),
            "voltage": installation.voltage_v,
            "max_phase_imbalance": installation.max_phase_imbalance_a,
            "failsafe_current": installation.failsafe_current_a,
        },
        "fuses": fuses,
        "chargers": snapshot_chargers,
    }


def _apply_modes(
    installation: Installation,
    chargers: list[Charger],
    sessions: dict[int, ChargeSession],
    states: dict[int, routing.LiveState],
    entries: dict[int, dict[str, Any]],
    fuses: list[dict[str, Any]],
    now: datetime,
    *,
    record: bool,
) -> None:
    """Fold each car's charge mode (docs/balancing.md "Charge modes") into its entry: a cap
    (``mode_cap``, the lower cap wins), a raised priority, 1 phase for a surplus car on a
    charger that can switch; ``mode`` and ``mode_reason`` tell the decision's reader."""
    decided = mode_inputs.decide(
        installation, chargers, sessions, states, entries, fuses, now, record=record
    )
    for charger_id, decision in decided.items():
        fold_mode(entries[charger_id], decision)


def _previously_finished(installation: Installation) -> set[str]:
    """The cars the latest solve found finished (only that list is read, not the whole answer)."""
    latest = (
        installation.balancing_decisions.order_by("-created_at", "-id")
        .annotate(finished=KeyTransform("finished", "result"))
        .values_list("finished", flat=True)
        .first()
    )
    return set(latest or [])
