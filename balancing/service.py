"""The live loop's work for one installation: snapshot in (database + Redis), limits out.

``build_scenario`` turns an installation into the engine's input (docs/BALANCING.md plus the
engine's documented extensions), ``balance`` solves it, records a ``BalancingDecision`` and sends
the changed limits as SetChargingProfile commands: lowering ones first, and raising ones only
after the lowering ones were answered (or timed out), so the fuses are never briefly overloaded.

Failsafe: every online charger gets a stack-level-0 profile at the installation's failsafe
current (once, again after a boot or a change), and each balancing limit above it carries a
``validTo`` (``BALANCING_LIMIT_TTL_SECONDS``) and is renewed at half-life while a car charges. A
charger that loses its connection therefore falls back to the failsafe current by itself when its
limit expires; until then the part of its limit above failsafe stays reserved on its fuses.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from balancing.engine import solve, tuning
from balancing.models import BalancingDecision, BalancingTrigger
from chargers.choices import ConnectorStatus, SessionStatus
from chargers.models import Charger, ChargeSession
from commands import reserved, routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from installations.models import Installation
from modes import inputs as mode_inputs
from modes import offline
from portal import live
from upstream import caps as upstream_caps

logger = logging.getLogger(__name__)

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
# The balancing profile (1001) sits above the failsafe profile (1000, stack level 0) and replaces
# itself. On a charger with several connectors the TxDefaultProfile is a limit per connector;
# CHARGER_MAX_PROFILE_ID caps their sum at the charger's allocation. The ids are the command
# path's, which refuses manual commands that would override or clear them (reserved.py).
BALANCING_PROFILE_ID = reserved.BALANCING_PROFILE_ID
CHARGER_MAX_PROFILE_ID = reserved.CHARGER_MAX_PROFILE_ID
FAILSAFE_PROFILE_ID = reserved.FAILSAFE_PROFILE_ID
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
            _apply_cap(entry, caps[charger.pk][0], "upstream_cap")
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


def _apply_cap(entry: dict[str, Any], cap_a: float, key: str) -> None:
    """One more cap on the charger, from upstream's charging profiles (``upstream.caps``) or
    its charge mode (``modes.inputs``): ``max_current`` = the lower of the two. A cap below the
    charger's minimum pauses the car (0 A): its range is then made one without a 0.1 A step,
    which the engine cannot give a limit in (``balancing.engine.demand.assess``). ``key``
    (``upstream_cap``, ``mode_cap``) tells the decision's reader."""
    entry[key] = round(cap_a, 2)
    if cap_a >= entry["min_current"]:
        entry["max_current"] = min(entry["max_current"], cap_a)
        return
    no_step = math.floor(entry["min_current"] * 10) / 10 + 0.05
    entry["min_current"] = entry["max_current"] = no_step


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


def fold_mode(entry: dict[str, Any], decision: mode_inputs.ModeInput) -> None:
    """One car's mode input folded into its snapshot entry (pure)."""
    entry["mode"] = str(decision.mode)
    entry["mode_reason"] = decision.reason
    if decision.one_phase and entry["phases"] == 3:
        _fold_one_phase(entry)
    if decision.cap_a is not None:
        _apply_cap(entry, decision.cap_a, "mode_cap")
    entry["priority"] += decision.priority_boost
    floor = decision.floor_a
    if floor is not None and entry["min_current"] < floor <= entry["max_current"]:
        entry["mode_floor"] = {"from": entry["min_current"], "to": floor}
        entry["min_current"] = floor


def _fold_one_phase(entry: dict[str, Any]) -> None:
    """A surplus car to charge on one phase. The snapshot counts it on one phase only once the
    charger is on one phase for sure: online, its last limit said one phase, and its draw shows
    at most one phase in use. Until then it keeps its 3-phase footprint and ``switch_to_one_phase``
    asks ``planned_changes`` to send the limit with one phase. Offline it keeps its 3 phases: its
    failsafe profile (``send_failsafe``) is for all the charger's phases, and the car may take
    the failsafe on each once the last limit expires."""
    if not entry["online"]:
        return
    measured, car_phases = entry.get("measured"), entry.get("car_phases")
    if measured is not None:
        on_one = sum(1 for draw in measured if draw >= tuning.PHASE_UNUSED_BELOW_A) <= 1
    else:
        on_one = car_phases == 1
    if entry.get("active_phases") == 1 and on_one:
        entry["phases"] = 1
        entry.pop("can_switch_phases", None)
        entry.pop("active_phases", None)
        entry["car_phases"] = None
    else:
        entry["switch_to_one_phase"] = True


def solve_with_floors(scenario: dict[str, Any]) -> dict[str, Any]:
    """Solve; a raised car that its floor (``fold_mode``) left paused gets its own minimum back
    and the snapshot is solved again, so it charges on what there is rather than not at all."""
    result = solve(scenario)
    paused = set(result["paused"])
    relaxed = [e for e in scenario["chargers"] if "mode_floor" in e and e["id"] in paused]
    if not relaxed:
        return result
    for entry in relaxed:
        entry["min_current"] = entry["mode_floor"]["from"]
        entry["mode_floor"]["relaxed"] = True
    return solve(scenario)


def _previously_finished(installation: Installation) -> set[str]:
    """The cars the latest solve found finished (only that list is read, not the whole answer)."""
    latest = (
        installation.balancing_decisions.order_by("-created_at", "-id")
        .annotate(finished=KeyTransform("finished", "result"))
        .values_list("finished", flat=True)
        .first()
    )
    return set(latest or [])


def charging_profile(
    current_a: float,
    phases: int,
    *,
    profile_id: int,
    stack_level: int,
    now: datetime | None = None,
    valid_for: timedelta | None = None,
    purpose: str = "TxDefaultProfile",
) -> dict[str, Any]:
    """A charging profile for the whole charger (connector 0) at ``current_a`` per phase: a
    TxDefaultProfile (every connector's default) or a ChargePointMaxProfile (their sum).

    Absolute, starting a minute ago: in force at once even if the charger's clock runs behind.
    With ``valid_for`` it ends then (``validTo``) and the profile below it applies again.
    """
    now = now or timezone.now()
    profile: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
    }
    if valid_for is not None:
        profile["validTo"] = _ocpp_time(now + valid_for)
    profile["chargingSchedule"] = {
        "startSchedule": _ocpp_time(now - timedelta(minutes=1)),
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": round(current_a, 1), "numberPhases": phases}
        ],
    }
    return {"connectorId": 0, "csChargingProfiles": profile}


def _ocpp_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LimitChange:
    charger: Charger
    current_a: float
    phases: int
    lowering: bool
    # The TxProfile of a departure plan on the charger's transaction (``with_plan_profiles``).
    plan_profile: dict[str, Any] | None = None


def planned_changes(
    chargers: dict[str, Charger],
    scenario: dict[str, Any],
    result: dict[str, Any],
    now: datetime | None = None,
) -> list[LimitChange]:
    """The limits to send to online chargers, lowering ones first (the engine's order, kept).

    Besides the engine's changes: a limit that expired (the charger fell back to failsafe) or is
    past half its validity while a car is connected is sent again. A charger without a car whose
    limit is not in force is left alone: it draws nothing, and the failsafe current it would
    apply fits the fuses (``installations.failsafe``); a car plugging in triggers a solve.
    """
    now = now or timezone.now()
    entries = {entry["id"]: entry for entry in scenario["chargers"]}
    renew_after = limit_ttl() / 2
    changes = []
    for allocation in result["allocations"]:
        charger = chargers.get(allocation["id"])
        entry = entries.get(allocation["id"])
        if charger is None or entry is None or not entry["online"]:
            continue
        current, phases = float(allocation["current"]), int(allocation["phases"])
        if entry.get("switch_to_one_phase") and phases == 3:
            phases = 1  # counted on 3 phases until it is on one for sure (_fold_one_phase)
        in_force = limit_in_force(charger, now)
        if entry["car_connected"]:
            due = (
                not in_force
                or now - charger.limit_sent_at >= renew_after
                or phases != (charger.allocated_phases or charger.phases)
            )
            if allocation.get("change", "none") == "none" and not due:
                continue
        elif not (in_force and allocation.get("change", "none") != "none"):
            continue
        applied = charger.allocated_current_a if in_force else charger.failsafe_sent_a
        applied_phases = (charger.allocated_phases or charger.phases) if in_force else phases
        lowering = current == 0 or (
            applied is not None and current <= applied and phases <= applied_phases
        )
        changes.append(LimitChange(charger, current, phases, lowering))
    return sorted(changes, key=lambda item: not item.lowering)  # stable: lowering first


def send_failsafe(chargers: list[Charger], failsafe_a: float) -> list[Command]:
    """Configure the failsafe current where it is not yet: a TxDefaultProfile at stack level 0
    with no end, which the charger applies whenever the balancing profile above it has expired
    (it loses its connection and nobody renews the limit)."""
    sent = []
    for charger in chargers:
        if charger.failsafe_sent_a == failsafe_a:
            continue
        payload = charging_profile(
            failsafe_a, charger.phases, profile_id=FAILSAFE_PROFILE_ID, stack_level=0
        )
        with transaction.atomic():
            command = routing.issue_command(
                charger,
                CommandAction.SET_CHARGING_PROFILE,
                payload,
                source=CommandSource.WORKER,
                timeout_s=15,
            )
            if not command.is_final:
                Charger.objects.filter(pk=charger.pk).update(failsafe_sent_a=failsafe_a)
        sent.append(command)
    return sent


def forget_refused_failsafe(commands: list[Command]) -> None:
    """A failsafe profile the charger already refused (or that failed) is not configured: the
    next solve sends it again. Ones not answered yet stay marked (they usually are answered by
    now, after the limits were sent; a later refusal waits for the next boot or change)."""
    for command in commands:
        command.refresh_from_db(fields=["status"])
        if command.is_final and command.status != CommandStatus.ACCEPTED:
            Charger.objects.filter(pk=command.charger_id).update(failsafe_sent_a=None)


def send_limits(changes: list[LimitChange], now: datetime | None = None) -> list[Command]:
    """Issue SetChargingProfile for each change; raising ones wait for the lowering ones."""
    now = now or timezone.now()
    sent: list[Command] = []
    lowering = [change for change in changes if change.lowering]
    raising = [change for change in changes if not change.lowering]
    for batch in (lowering, raising):
        if batch is raising and raising and sent:
            deadline = time.monotonic() + LOWERING_WAIT_S
            for command in sent:
                routing.wait_for_command(command, max(0.0, deadline - time.monotonic()))
        for change in batch:
            with transaction.atomic():
                commands = [
                    routing.issue_command(
                        change.charger,
                        CommandAction.SET_CHARGING_PROFILE,
                        payload,
                        source=CommandSource.WORKER,
                        timeout_s=15,
                    )
                    for payload in _limit_profiles(change, now)
                ]
                if not any(command.is_final for command in commands):
                    Charger.objects.filter(pk=change.charger.pk).update(
                        allocated_current_a=change.current_a,
                        allocated_phases=change.phases,
                        limit_sent_at=now,
                    )
            sent.extend(commands)
    return sent


def _limit_profiles(change: LimitChange, now: datetime) -> list[dict[str, Any]]:
    """The profiles that carry one limit, in a safe order. One connector: a TxDefaultProfile.
    Several: the same per connector plus a ChargePointMaxProfile on their sum; when lowering the
    sum is capped first, when raising last."""
    profiles = [(BALANCING_PROFILE_ID, "TxDefaultProfile")]
    if len(change.charger.connectors.all()) > 1:
        profiles.append((CHARGER_MAX_PROFILE_ID, "ChargePointMaxProfile"))
        if change.lowering:
            profiles.reverse()
    payloads = [
        charging_profile(
            change.current_a,
            change.phases,
            profile_id=profile_id,
            stack_level=1,
            now=now,
            valid_for=limit_ttl(),
            purpose=purpose,
        )
        for profile_id, purpose in profiles
    ]
    if change.plan_profile is not None:  # it governs its connector: first down, last up
        payloads.insert(0 if change.lowering else len(payloads), change.plan_profile)
    return payloads


def with_plan_profiles(
    changes: list[LimitChange], failsafe_a: float, now: datetime | None = None
) -> list[LimitChange]:
    """Each change of a charger whose running session has a departure plan carries the plan's
    TxProfile (``modes.offline``; docs/balancing.md "A plan survives a lost connection"): it
    overrides the TxDefaultProfiles for its transaction, so it is sent with every limit, never
    above that limit while it is valid nor above the failsafe after it. One query."""
    if not changes:
        return changes
    now = now or timezone.now()
    profiles = offline.plan_profiles(
        [(change.charger.pk, change.current_a, change.phases) for change in changes],
        failsafe_a=failsafe_a,
        limit_until=now + limit_ttl(),
        now=now,
    )
    return [
        replace(change, plan_profile=profiles[change.charger.pk])
        if change.charger.pk in profiles
        else change
        for change in changes
    ]


def balance(
    installation_id: int, trigger: BalancingTrigger, reason: str = ""
) -> BalancingDecision | None:
    """Solve one installation now and send what changed. Call it under the installation's lock."""
    installation = Installation.objects.filter(pk=installation_id).first()
    if installation is None:
        return None
    problem = installation.live_available_current_problem(timezone.now())
    if problem:  # written around validation: solving with it could overload; the limits expire
        logger.error(
            "Installation %s not balanced: its live available current %r is unusable (%s)",
            installation_id, installation.available_current_a, problem,
        )  # fmt: skip
        return None
    scenario = build_scenario(installation, record=True)
    started = time.perf_counter()
    result = solve_with_floors(scenario)
    solve_ms = (time.perf_counter() - started) * 1000
    chargers = {
        charger.ocpp_identity: charger
        for charger in installation.chargers.prefetch_related("connectors")
    }
    online = [
        chargers[e["id"]] for e in scenario["chargers"] if e["online"] and e["id"] in chargers
    ]
    failsafe = send_failsafe(online, installation.failsafe_current_a)
    changes = with_plan_profiles(
        planned_changes(chargers, scenario, result), installation.failsafe_current_a
    )
    commands = failsafe + send_limits(changes)
    forget_refused_failsafe(failsafe)
    _watch(installation, scenario, result, chargers)
    decision = BalancingDecision(
        installation=installation,
        trigger=trigger,
        reason=reason[:120],
        scenario=scenario,
        result=result,
        solve_ms=solve_ms,
        commands_sent=len(commands),
    )
    if trigger == BalancingTrigger.SWEEP and not commands:
        latest = installation.balancing_decisions.order_by("-created_at", "-id").first()
        if latest is not None and latest.result == result:
            BalancingDecision.objects.filter(pk=latest.pk).update(
                confirmed_at=timezone.now(), confirmations=F("confirmations") + 1
            )
            return decision  # the same answer as the latest one: not stored again
    decision.save()
    if commands:  # new limits: the Load tab shows them (after the commit, like the commands)
        changed = {command.charger_id for command in commands}
        transaction.on_commit(lambda: live.publish_change(installation_id, changed))
    return decision


def _watch(
    installation: Installation,
    scenario: dict[str, Any],
    result: dict[str, Any],
    chargers: dict[str, Charger],
) -> None:
    """Cars not served and overloaded fuses (``balancing.watch``); a failure there is logged and
    never keeps the limits from being recorded. Imported here: it reads the Load tab's figures,
    whose module imports this one."""
    from balancing import watch

    try:
        watch.observe(installation, scenario, result, chargers)
    except Exception:
        logger.exception("Watching installation %s after its solve failed", installation.pk)


def prune_decisions(older_than: timedelta, batch: int = 5000) -> int:
    """Delete decisions older than ``older_than`` in batches; return how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            BalancingDecision.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return deleted
        deleted += BalancingDecision.objects.filter(pk__in=ids).delete()[0]
