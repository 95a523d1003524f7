"""Charge modes as balancing inputs: for one installation at one moment, per car, a cap (A) and
a priority change with a reason (docs/balancing.md "Charge modes").

``balancing.snapshot.build_scenario`` calls ``decide`` with what it has already read (chargers,
running sessions, live states, the snapshot's entries and fuses) and folds each answer in like
an upstream cap: the lower cap wins, a cap below the minimum pauses the car. The engine stays
the authority: a mode can lower a car's current or raise its priority, never make a fuse give
more. Queries: a fixed number per installation, whatever its number of chargers (the plans;
the chargers' default modes come annotated on build_scenario's chargers; then only for the modes
in use: hours and holidays, prices, surplus settings and states, and, in the live loop's solve,
the writes of plans and surplus states in bulk and the binding of a plan to a new session).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q

from chargers.models import Charger, ChargeSession
from installations.choices import ROLE_ACTIONS
from installations.models import Installation, Membership
from modes import hours, planner, services, surplus
from modes.choices import ChargeMode, PlanStatus
from modes.models import ChargerMode, SessionPlan, SurplusSettings, SurplusState
from portal.tenancy import Action
from tariffs.prices import price_slots

logger = logging.getLogger(__name__)

# A planned car behind its plan is raised this many priority levels (capped at its catch-up).
PRIORITY_BOOST = 1
# Without a better estimate, the battery behind a target SoC holds this much.
DEFAULT_BATTERY_WH = 60_000
# The battery size is estimated once the SoC has moved this much in the session.
SOC_ESTIMATE_MIN_PERCENT = 5.0
# A plan's row is rewritten when what it asks changes, else at most this often.
PLAN_WRITE_EVERY = timedelta(seconds=60)
PHASE_NAMES = ("L1", "L2", "L3")


@dataclass(frozen=True)
class ModeInput:
    """What a car's mode asks of balancing now."""

    mode: str
    cap_a: float | None  # None: no cap
    priority_boost: int
    reason: str
    one_phase: bool = False
    # The least it must get if it charges at all (a raised car's catch-up current): Now cars
    # of lower priority are then admitted only in what is left (balancing.folding.fold_mode).
    floor_a: float | None = None


def decide(
    installation: Installation,
    chargers: list[Charger],
    sessions: dict[int, ChargeSession],
    states: dict[int, Any],
    entries: dict[int, dict[str, Any]],
    fuses: list[dict[str, Any]],
    now: datetime,
    *,
    record: bool = False,
) -> dict[int, ModeInput]:
    """Charger id -> its mode's input, for the chargers with a car whose mode is not Now.

    ``record``: this is the live loop's solve: a waiting plan is bound to its session, plans'
    statuses and surplus states are stored. Without it (the Load tab's reading) nothing is
    written."""
    connected = [c for c in chargers if entries[c.pk]["car_connected"]]
    if not connected:
        return {}
    ids = [charger.pk for charger in connected]
    if all(hasattr(charger, "default_mode") for charger in connected):  # build_scenario's
        defaults = {c.pk: c.default_mode for c in connected if c.default_mode}
    else:
        defaults = dict(
            ChargerMode.objects.filter(charger__in=ids).values_list("charger_id", "mode")
        )
    plans = _plans(connected, sessions, now, record=record)
    modes = {pk: plans[pk].mode if pk in plans else defaults.get(pk, ChargeMode.NOW) for pk in ids}
    found: dict[int, ModeInput] = {}
    by_mode: dict[str, list[Charger]] = {}
    for charger in connected:
        by_mode.setdefault(modes[charger.pk], []).append(charger)
    if by_mode.get(ChargeMode.SCHEDULED):
        found.update(_scheduled(installation, by_mode[ChargeMode.SCHEDULED], now))
    if by_mode.get(ChargeMode.DEPARTURE):
        found.update(
            _departures(
                installation,
                [c for c in by_mode[ChargeMode.DEPARTURE] if c.pk in plans],
                plans,
                sessions,
                states,
                entries,
                fuses,
                now,
                record=record,
            )
        )
    if by_mode.get(ChargeMode.SURPLUS):
        found.update(
            _surplus(
                installation, by_mode[ChargeMode.SURPLUS], sessions, entries, now, record=record
            )
        )
    return found


# --- plans ---------------------------------------------------------------------------------


def _plans(
    chargers: list[Charger], sessions: dict[int, ChargeSession], now: datetime, *, record: bool
) -> dict[int, SessionPlan]:
    """Charger id -> the plan of its running session; a plan waiting on the charger is bound
    to the session that started within its claim time (a driver's plan only to their own
    session or one without an account, unless they may operate the charger)."""
    running = {sessions[c.pk].pk: c.pk for c in chargers if c.pk in sessions}
    rows = list(
        SessionPlan.objects.filter(
            Q(session_id__in=list(running))
            | Q(
                charger__in=[c.pk for c in chargers],
                session__isnull=True,
                created_at__gt=now - timedelta(minutes=services.PLAN_CLAIM_MINUTES),
            )
        )
    )
    bound = {running[row.session_id]: row for row in rows if row.session_id in running}
    waiting = [row for row in rows if row.session_id is None and row.charger_id not in bound]
    operators: set[int] | None = None
    for row in waiting:
        session = sessions.get(row.charger_id)
        if session is None or not (
            row.created_at - timedelta(minutes=1) <= session.started_at <= row.claim_deadline()
        ):
            continue
        if row.set_by_id is not None and session.user_id not in (None, row.set_by_id):
            if operators is None:
                operators = _operators(chargers[0].installation_id)
            if row.set_by_id not in operators:
                continue
        updated = not record or SessionPlan.objects.filter(pk=row.pk, session__isnull=True).update(
            session=session, baseline_energy_wh=0
        )
        if updated:
            row.session, row.baseline_energy_wh = session, 0
            bound[row.charger_id] = row
    return bound


def _operators(installation_id: int) -> set[int]:
    roles = [role for role, actions in ROLE_ACTIONS.items() if Action.OPERATE in actions]
    return set(
        Membership.objects.filter(installation_id=installation_id, role__in=roles).values_list(
            "user_id", flat=True
        )
    )


# --- scheduled -----------------------------------------------------------------------------


def _scheduled(
    installation: Installation, chargers: list[Charger], now: datetime
) -> dict[int, ModeInput]:
    windows = services.windows_of(installation)
    tz = ZoneInfo(installation.time_zone)
    weekend = services.weekend_test(installation, now)
    found = {}
    for charger in chargers:
        own = windows.get(charger.pk) or windows.get(None) or []
        if hours.allowed_at(own, now, tz, weekend):
            found[charger.pk] = ModeInput(ChargeMode.SCHEDULED, None, 0, "scheduled: allowed now")
            continue
        opens = hours.next_allowed(own, now, tz, weekend)
        until = f"waits until {opens.astimezone(tz):%a %H:%M}" if opens else "no allowed hours"
        found[charger.pk] = ModeInput(ChargeMode.SCHEDULED, 0.0, 0, f"scheduled: {until}")
    return found


# --- by departure --------------------------------------------------------------------------


def _rotation(entry: dict[str, Any]) -> list[int]:
    """The installation phase index of each of the charger's phases ("L2L3L1" -> [1, 2, 0])."""
    rotation = entry["rotation"]
    return [PHASE_NAMES.index(rotation[i : i + 2]) for i in range(0, len(rotation), 2)]


def _path_limit_a(
    entry: dict[str, Any], by_id: dict[str, dict[str, Any]], phases: list[int]
) -> float:
    """The most the fuses on the car's path could give it alone (limit less base load)."""
    limit = float("inf")
    node = by_id.get(entry["fuse"])
    while node is not None:
        for phase in phases:
            limit = min(limit, node["limit"][phase] - node["base_load"][phase])
        node = by_id.get(node["parent"]) if node["parent"] else None
    return max(0.0, limit)


def _needed_wh(plan: SessionPlan, session: ChargeSession, soc: float | None) -> float | None:
    """The energy still needed (None: not known: a target SoC with no SoC reported)."""
    delivered = session.energy_wh - plan.baseline_energy_wh
    if plan.energy_need_wh is not None:
        return max(0.0, plan.energy_need_wh - delivered)
    if soc is None or plan.target_soc_percent is None:
        return None
    if plan.soc_start_percent is None:
        plan.soc_start_percent, plan.soc_start_energy_wh = soc, session.energy_wh
    battery_wh = float(DEFAULT_BATTERY_WH)
    moved = soc - plan.soc_start_percent
    if moved >= SOC_ESTIMATE_MIN_PERCENT:
        battery_wh = (session.energy_wh - (plan.soc_start_energy_wh or 0)) * 100 / moved
    return max(0.0, (plan.target_soc_percent - soc) / 100 * battery_wh)


def _price_slots(
    installation: Installation, start: datetime, end: datetime
) -> list[planner.PriceSlot]:
    """The installation's prices from ``tariffs`` (one query); no price counts as the same, and
    so does a price in another currency than the installation's (never compared as numbers)."""
    return [
        planner.PriceSlot(
            slot.start,
            slot.end,
            slot.price_per_kwh if slot.currency == installation.currency else None,
        )
        for slot in price_slots(installation, start, end)
    ]


def _departures(
    installation: Installation,
    chargers: list[Charger],
    plans: dict[int, SessionPlan],
    sessions: dict[int, ChargeSession],
    states: dict[int, Any],
    entries: dict[int, dict[str, Any]],
    fuses: list[dict[str, Any]],
    now: datetime,
    *,
    record: bool,
) -> dict[int, ModeInput]:
    departures = [
        plans[c.pk].departure_at for c in chargers if plans[c.pk].departure_at is not None
    ]
    latest = max(departures, default=now)
    prices = _price_slots(installation, now, latest) if latest > now else []
    fuses_by_id = {fuse["id"]: fuse for fuse in fuses}
    found: dict[int, ModeInput] = {}
    changed: list[SessionPlan] = []
    for charger in chargers:
        plan, session, entry = plans[charger.pk], sessions.get(charger.pk), entries[charger.pk]
        if session is None or plan.departure_at is None:
            continue
        soc = states[charger.pk].soc_percent if charger.pk in states else None
        needed = _needed_wh(plan, session, soc)
        if needed is None:
            result = planner.Plan(
                PlanStatus.ON_TRACK, None, False, 0.0, "no SoC reported yet: charges as Now"
            )
        else:
            phases = entry.get("car_phases") or entry["phases"]
            rotation = _rotation(entry)
            maximum = min(
                entry["max_current"], _path_limit_a(entry, fuses_by_id, rotation[:phases])
            )
            maximum = math.floor(maximum * 10 + 1e-6) / 10  # a current the engine can give
            result = planner.make_plan(
                now,
                plan.departure_at,
                needed,
                min_current_a=entry["min_current"],
                max_current_a=maximum,
                phases=phases,
                voltage_v=installation.voltage_v,
                prices=[p for p in prices if p.end > now and p.start < plan.departure_at],
            )
        found[charger.pk] = ModeInput(
            ChargeMode.DEPARTURE,
            result.cap_a,
            PRIORITY_BOOST if result.boost else 0,
            f"departure {result.reason}",
            floor_a=result.cap_a if result.boost else None,
        )
        if _plan_changed(plan, result, now):
            plan.status = result.status
            plan.cap_a = result.cap_a
            plan.reason = result.reason[:200]
            plan.plan = [slot.as_json() for slot in result.slots]
            plan.planned_at = now
            plan.delivered_wh = session.energy_wh
            plan.needed_wh = round(result.needed_wh) if needed is not None else None
            changed.append(plan)
    if changed and record:
        SessionPlan.objects.bulk_update(
            changed,
            [
                "status",
                "cap_a",
                "reason",
                "plan",
                "planned_at",
                "delivered_wh",
                "needed_wh",
                "soc_start_percent",
                "soc_start_energy_wh",
            ],
        )
    return found


def _plan_changed(plan: SessionPlan, result: planner.Plan, now: datetime) -> bool:
    return (
        plan.planned_at is None
        or plan.status != result.status
        or plan.cap_a != result.cap_a
        or now - plan.planned_at >= PLAN_WRITE_EVERY
    )


# --- surplus -------------------------------------------------------------------------------


def _surplus(
    installation: Installation,
    chargers: list[Charger],
    sessions: dict[int, ChargeSession],
    entries: dict[int, dict[str, Any]],
    now: datetime,
    *,
    record: bool,
) -> dict[int, ModeInput]:
    settings_row = SurplusSettings.objects.filter(installation=installation).first()
    if settings_row is None:
        settings_row = SurplusSettings(installation=installation)
    stored = {row.charger_id: row for row in SurplusState.objects.filter(charger__in=chargers)}
    cars = []
    for charger in chargers:
        entry = entries[charger.pk]
        session = sessions.get(charger.pk)
        row = stored.get(charger.pk)
        state = surplus.CarState()
        if row is not None and row.session_id == (session.pk if session else None):
            state = surplus.CarState(row.active, row.one_phase, row.enough_since, row.short_since)
        rotation = _rotation(entry)
        phases = entry.get("car_phases") or entry["phases"]
        cars.append(
            surplus.SurplusCar(
                id=charger.pk,
                phases=tuple(rotation[:phases]),
                min_current_a=entry["min_current"],
                max_current_a=entry["max_current"],
                can_switch=bool(entry.get("can_switch_phases")) and phases == 3,
                priority=entry["priority"],
                arrived_at=session.started_at if session else now,
                state=state,
            )
        )
    decisions = surplus.decide(
        cars,
        settings_row.live_surplus_a(now),
        now,
        start_after=timedelta(minutes=settings_row.start_after_minutes),
        stop_after=timedelta(minutes=settings_row.stop_after_minutes),
        one_phase=settings_row.one_phase_at_low_surplus,
    )
    if record:
        _save_states(chargers, sessions, stored, decisions)
    return {
        pk: ModeInput(ChargeMode.SURPLUS, d.cap_a, 0, d.reason, one_phase=d.one_phase)
        for pk, d in decisions.items()
    }


def _save_states(
    chargers: list[Charger],
    sessions: dict[int, ChargeSession],
    stored: dict[int, SurplusState],
    decisions: dict[int, surplus.Decision],
) -> None:
    """Persist what changed (two queries at most: an update in bulk and an insert in bulk)."""
    fields = ["session", "active", "one_phase", "enough_since", "short_since"]
    created, updated = [], []
    for charger in chargers:
        decision = decisions[charger.pk]
        session = sessions.get(charger.pk)
        values = {
            "session": session,
            "active": decision.state.active,
            "one_phase": decision.state.one_phase,
            "enough_since": decision.state.enough_since,
            "short_since": decision.state.short_since,
        }
        row = stored.get(charger.pk)
        if row is None:
            created.append(SurplusState(charger=charger, **values))
            continue
        current = (row.session_id, row.active, row.one_phase, row.enough_since, row.short_since)
        wanted = (session.pk if session else None, *list(values.values())[1:])
        if current != wanted:
            for key, value in values.items():
                setattr(row, key, value)
            updated.append(row)
    if created:
        SurplusState.objects.bulk_create(created, ignore_conflicts=True)
    if updated:
        SurplusState.objects.bulk_update(updated, fields)
