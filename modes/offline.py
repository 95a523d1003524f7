"""A departure plan the charger follows by itself: its TxProfile (OCPP 1.6 3.13).

A TxProfile overrides every TxDefaultProfile for its transaction, Fusebox's balancing limit
(id 1001) and failsafe (id 1000) included: while it is installed the charger reads nothing
else for that connector (a ChargePointMaxProfile still caps the charger's sum). So the profile
carries both envelopes itself (docs/balancing.md "A plan survives a lost connection"): until
the balancing limit's validity ends (``limit_until``) at most that limit, after it at most the
failsafe current; within them, the plan's current of each slot (0 A outside the planned slots).
After the departure the plan restricts nothing (the failsafe rules), except a met plan, which
stays at 0 A. The balancing service sends it with every limit it sends the charger, so its first
period is always the limit in force. ``periods`` and ``tx_profile`` are pure; ``plan_profiles``
reads the plans (one query).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from django.db.models import Q

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from commands.reserved import PLAN_PROFILE_ID  # next to Fusebox's other profile ids
from modes.choices import ChargeMode, PlanStatus

# Chargers keep at least this many periods per schedule (ChargingScheduleMaxPeriods; 24 is
# common); a longer plan's tail is folded into its last period at the lowest limit it holds.
MAX_PERIODS = 24
# The schedule starts a minute ago, as Fusebox's other profiles do (a charger's clock may lag).
LEAD = timedelta(minutes=1)


def restriction(
    status: str, slots: Sequence[dict[str, Any]], departure: datetime | None
) -> list[tuple[datetime, datetime, float]] | None:
    """The plan as (start, end, current) pieces with 0 A between them up to the departure; None
    when it restricts nothing (a plan missed, or none)."""
    if status == PlanStatus.MET:
        return []
    if status not in (PlanStatus.ON_TRACK, PlanStatus.BEHIND, PlanStatus.CANNOT_BE_MET):
        return None
    return [
        (
            datetime.fromisoformat(s["start"]),
            datetime.fromisoformat(s["end"]),
            float(s["current_a"]),
        )
        for s in slots
    ]


def periods(
    now: datetime,
    *,
    limit_a: float,
    limit_until: datetime,
    failsafe_a: float,
    plan: list[tuple[datetime, datetime, float]] | None,
    departure: datetime | None,
    met: bool = False,
) -> list[tuple[datetime, float]]:
    """(from, limit) steps from ``now`` on: the lower of the envelope (the balancing limit, then
    the failsafe) and the plan (0 A outside its slots before the departure; a met plan 0 A
    throughout). At most ``MAX_PERIODS``."""
    cuts = {now, limit_until}
    for start, end, _ in plan or []:
        cuts.update(moment for moment in (start, end) if moment > now)
    if departure is not None and departure > now:
        cuts.add(departure)
    steps: list[tuple[datetime, float]] = []
    for start, _ in pairwise([*sorted(cuts), datetime.max.replace(tzinfo=now.tzinfo)]):
        value = limit_a if start < limit_until else failsafe_a
        if plan is not None:
            ends_plan = departure is not None and start >= departure and not met
            if not ends_plan:
                value = min(value, _plan_at(plan, start))
        value = math.floor(value * 10 + 1e-6) / 10
        if not steps or steps[-1][1] != value:
            steps.append((start, value))
    if len(steps) > MAX_PERIODS:
        tail = min(limit for _, limit in steps[MAX_PERIODS - 1 :])
        steps = [*steps[: MAX_PERIODS - 1], (steps[MAX_PERIODS - 1][0], tail)]
    return steps


def _plan_at(plan: list[tuple[datetime, datetime, float]], moment: datetime) -> float:
    return next((current for start, end, current in plan if start <= moment < end), 0.0)


def tx_profile(
    steps: list[tuple[datetime, float]],
    *,
    now: datetime,
    connector_id: int,
    transaction_id: int,
    phases: int,
) -> dict[str, Any]:
    """The SetChargingProfile payload of the plan's TxProfile for ``steps``."""
    begin = (now - LEAD).replace(microsecond=0)
    schedule = [
        {
            "startPeriod": 0 if index == 0 else int((start - begin).total_seconds()),
            "limit": limit,
            "numberPhases": phases,
        }
        for index, (start, limit) in enumerate(steps)
    ]
    return {
        "connectorId": connector_id,
        "csChargingProfiles": {
            "chargingProfileId": PLAN_PROFILE_ID,
            "transactionId": transaction_id,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": schedule,
            },
        },
    }


def plan_profiles(
    limits: Sequence[tuple[int, float, int]],
    *,
    failsafe_a: float,
    limit_until: datetime,
    now: datetime,
) -> dict[int, dict[str, Any]]:
    """Charger id -> the TxProfile to send with its new limit, for the chargers among ``limits``
    (charger id, current, phases) whose running session has a departure plan (planned once at
    least), or had one: a session whose plan's TxProfile was sent (``plan_profile_sent``) keeps
    getting one, the envelope alone once the plan is gone. Its ClearChargingProfile may have
    failed, and a stale TxProfile would override every lower limit until it expires. One query."""
    sessions = (
        ChargeSession.objects.filter(
            charger__in=[charger_id for charger_id, _, _ in limits], status=SessionStatus.ACTIVE
        )
        .filter(
            Q(plan_profile_sent=True)
            | (Q(plan__mode=ChargeMode.DEPARTURE) & ~Q(plan__status=PlanStatus.PENDING))
        )
        .select_related("connector", "plan")
    )
    by_charger = {session.charger_id: session for session in sessions}
    found = {}
    for charger_id, current_a, phases in limits:
        session = by_charger.get(charger_id)
        if session is None:
            continue
        plan = getattr(session, "plan", None)
        if plan is None or plan.mode != ChargeMode.DEPARTURE or plan.status == PlanStatus.PENDING:
            plan = None  # the envelope alone: what the default profiles would give
        steps = periods(
            now,
            limit_a=current_a,
            limit_until=limit_until,
            failsafe_a=failsafe_a,
            plan=restriction(plan.status, plan.plan, plan.departure_at) if plan else None,
            departure=plan.departure_at if plan else None,
            met=plan is not None and plan.status == PlanStatus.MET,
        )
        found[charger_id] = tx_profile(
            steps,
            now=now,
            connector_id=session.connector.connector_id,
            transaction_id=session.pk,
            phases=phases,
        )
    return found
