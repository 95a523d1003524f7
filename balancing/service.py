"""The live loop's work for one installation: snapshot in (database + Redis), limits out.

``balancing.snapshot.build_scenario`` turns an installation into the engine's input,
``balance`` solves it, records a ``BalancingDecision`` and sends
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
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from balancing.folding import solve_with_floors
from balancing.models import BalancingDecision, BalancingTrigger
from balancing.snapshot import build_scenario, limit_in_force, limit_ttl
from chargers.models import Charger, ChargeSession
from commands import reserved, routing
from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from installations.models import Installation
from modes import offline
from portal import live

logger = logging.getLogger(__name__)

# The balancing profile (1001) sits above the failsafe profile (1000, stack level 0) and replaces
# itself. On a charger with several connectors the TxDefaultProfile is a limit per connector;
# CHARGER_MAX_PROFILE_ID caps their sum at the charger's allocation. The ids are the command
# path's, which refuses manual commands that would override or clear them (reserved.py).
BALANCING_PROFILE_ID = reserved.BALANCING_PROFILE_ID
CHARGER_MAX_PROFILE_ID = reserved.CHARGER_MAX_PROFILE_ID
FAILSAFE_PROFILE_ID = reserved.FAILSAFE_PROFILE_ID
LOWERING_WAIT_S = 5.0


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
            phases = 1  # counted on 3 phases until it is on one for sure (balancing.folding)
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
    above that limit while it is valid nor above the failsafe after it; after the plan, the
    envelope alone for the rest of the session. Two queries (one when none is sent)."""
    if not changes:
        return changes
    now = now or timezone.now()
    profiles = offline.plan_profiles(
        [(change.charger.pk, change.current_a, change.phases) for change in changes],
        failsafe_a=failsafe_a,
        limit_until=now + limit_ttl(),
        now=now,
    )
    ChargeSession.objects.filter(  # from now on every limit of these sessions carries one
        pk__in=[p["csChargingProfiles"]["transactionId"] for p in profiles.values()],
        plan_profile_sent=False,
    ).update(plan_profile_sent=True)
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
