"""The live loop's work for one installation: snapshot in (database + Redis), limits out.

``build_scenario`` turns an installation into the engine's input (docs/BALANCING.md plus the
engine's documented extensions), ``balance`` solves it, records a ``BalancingDecision`` and sends
the changed limits as SetChargingProfile commands: lowering ones first, and raising ones only
after the lowering ones were answered (or timed out), so the fuses are never briefly overloaded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from balancing.engine import solve
from balancing.models import BalancingDecision, BalancingTrigger
from chargers.choices import ConnectorStatus, SessionStatus
from chargers.models import Charger, ChargeSession
from installations.models import Installation
from ocpp_bridge import routing
from ocpp_bridge.choices import CommandAction, CommandSource
from ocpp_bridge.models import Command

logger = logging.getLogger(__name__)

# A car is plugged in while its connector is in one of these states.
CAR_CONNECTED_STATUSES = {
    ConnectorStatus.PREPARING,
    ConnectorStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV,
    ConnectorStatus.SUSPENDED_EVSE,
    ConnectorStatus.FINISHING,
}
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}
# The balancing profile sits above the failsafe profile (stack level 0) and replaces itself.
BALANCING_PROFILE_ID = 1001
FAILSAFE_PROFILE_ID = 1000
LOWERING_WAIT_S = 5.0


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


def build_scenario(installation: Installation, now: datetime | None = None) -> dict[str, Any]:
    """The engine's snapshot of ``installation``: fuse tree, chargers, live measurements."""
    now = now or timezone.now()
    circuits = list(installation.circuits.order_by("id"))
    chargers = list(installation.chargers.prefetch_related("connectors").order_by("id"))
    states = routing.live_states([charger.pk for charger in chargers])
    sessions = {
        session.charger_id: session
        for session in ChargeSession.objects.filter(
            charger__in=chargers, status=SessionStatus.ACTIVE
        )
    }
    finished = _previously_finished(installation)
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
    for charger in chargers:
        state = states[charger.pk]
        connected = any(c.status in CAR_CONNECTED_STATUSES for c in charger.connectors.all())
        session = sessions.get(charger.pk)
        entry: dict[str, Any] = {
            "id": charger.ocpp_identity,
            "fuse": fuse_id(charger.circuit_id),
            "phases": charger.phases,
            "rotation": charger.phase_rotation,
            "min_current": charger.min_current_a,
            "max_current": charger.max_current_a,
            "online": state.online or charger.is_online,
            "car_connected": connected,
            "car_phases": None,
            "measured": to_installation_phases(state.current_a, charger.phase_rotation),
            "current_limit": charger.allocated_current_a,
            "priority": charger.priority,
            "connected_since": (session.started_at if session else now).isoformat(),
            "energy_wh": session.energy_wh if session else 0,
            "car_finished": connected and charger.ocpp_identity in finished,
        }
        if charger.can_switch_phases and charger.phases == 3:
            entry["can_switch_phases"] = True
            entry["active_phases"] = charger.allocated_phases or 3
        snapshot_chargers.append(entry)
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


def _previously_finished(installation: Installation) -> set[str]:
    latest = (
        installation.balancing_decisions.order_by("-created_at")
        .values_list("result", flat=True)
        .first()
    )
    return set((latest or {}).get("finished", []))


def charging_profile(
    current_a: float, phases: int, *, profile_id: int, stack_level: int, now: datetime | None = None
) -> dict[str, Any]:
    """A TxDefaultProfile for the whole charger (connector 0) at ``current_a`` per phase.

    Absolute, starting a minute ago: in force at once even if the charger's clock runs behind.
    """
    start = (now or timezone.now()) - timedelta(minutes=1)
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": round(current_a, 1), "numberPhases": phases}
                ],
            },
        },
    }


@dataclass(frozen=True)
class LimitChange:
    charger: Charger
    current_a: float
    phases: int
    lowering: bool


def planned_changes(chargers: dict[str, Charger], result: dict[str, Any]) -> list[LimitChange]:
    """The limits to send, lowering ones first (the engine's order, kept)."""
    changes = []
    for allocation in result["allocations"]:
        charger = chargers.get(allocation["id"])
        change = allocation.get("change", "none")
        if charger is None or change == "none":
            continue
        changes.append(
            LimitChange(
                charger, float(allocation["current"]), int(allocation["phases"]), change == "lower"
            )
        )
    return sorted(changes, key=lambda item: not item.lowering)  # stable: lowering first


def send_limits(changes: list[LimitChange]) -> list[Command]:
    """Issue SetChargingProfile for each change; raising ones wait for the lowering ones."""
    sent: list[Command] = []
    lowering = [change for change in changes if change.lowering]
    raising = [change for change in changes if not change.lowering]
    for batch in (lowering, raising):
        if batch is raising and sent:
            deadline = time.monotonic() + LOWERING_WAIT_S
            for command in sent:
                routing.wait_for_command(command, max(0.0, deadline - time.monotonic()))
        for change in batch:
            payload = charging_profile(
                change.current_a, change.phases, profile_id=BALANCING_PROFILE_ID, stack_level=1
            )
            with transaction.atomic():
                command = routing.issue_command(
                    change.charger,
                    CommandAction.SET_CHARGING_PROFILE,
                    payload,
                    source=CommandSource.WORKER,
                    timeout_s=15,
                )
                if not command.is_final:
                    Charger.objects.filter(pk=change.charger.pk).update(
                        allocated_current_a=change.current_a, allocated_phases=change.phases
                    )
            sent.append(command)
    return sent


def balance(
    installation_id: int, trigger: BalancingTrigger, reason: str = ""
) -> BalancingDecision | None:
    """Solve one installation now and send what changed. Call it under the installation's lock."""
    installation = Installation.objects.filter(pk=installation_id).first()
    if installation is None:
        return None
    scenario = build_scenario(installation)
    started = time.perf_counter()
    result = solve(scenario)
    solve_ms = (time.perf_counter() - started) * 1000
    chargers = {charger.ocpp_identity: charger for charger in installation.chargers.all()}
    commands = send_limits(planned_changes(chargers, result))
    return BalancingDecision.objects.create(
        installation=installation,
        trigger=trigger,
        reason=reason[:120],
        scenario=scenario,
        result=result,
        solve_ms=solve_ms,
        commands_sent=len(commands),
    )
