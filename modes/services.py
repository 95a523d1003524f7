"""Charge mode workflows: every rule a change must pass, one function per change.

Each function validates and raises ``ValidationError`` whose message says what is wrong (the
API answers it as 400, the pages show it by the field); permissions to reach the charger or
installation are the caller's (``restrict``), except that a driver may only plan their own
session (``PermissionDenied``). A change asks balancing for a solve once it is committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands.choices import CommandAction, CommandSource
from commands.reserved import PLAN_PROFILE_ID
from installations.models import Installation
from modes import hours
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import (
    PLAN_CLAIM_MINUTES,
    ChargerMode,
    ChargingWindow,
    SessionPlan,
    SurplusSettings,
)
from portal.tenancy import Action
from tariffs.prices import holidays_between

if TYPE_CHECKING:
    from accounts.models import User

# A departure must be at least this far ahead, and at most this far.
MIN_DEPARTURE_AHEAD = timedelta(minutes=5)
MAX_DEPARTURE_AHEAD = timedelta(days=7)
# The largest energy need accepted (a large electric van or truck battery).
MAX_ENERGY_NEED_WH = 300_000
MAX_HYSTERESIS_MINUTES = 240
# A surplus reading applies this long unless the reporter says otherwise; at most a day.
SURPLUS_READING_TTL = timedelta(minutes=5)
MAX_SURPLUS_VALIDITY = timedelta(days=1)
MAX_SURPLUS_A = 4000.0


def _request_solve(installation_id: int, reason: str) -> None:
    from balancing.tasks import request_balance

    transaction.on_commit(lambda: request_balance(installation_id, reason))


# --- the charger's default mode ------------------------------------------------------------


def set_charger_mode(charger: Charger, mode: str, *, by: User | None = None) -> ChargerMode:
    """Make ``mode`` the default of every session on ``charger``."""
    if mode not in ChargeMode.values:
        choices = ", ".join(ChargeMode.values)
        raise ValidationError({"mode": f"Unknown mode {mode!r}; choose one of {choices}."})
    if mode == ChargeMode.DEPARTURE:
        raise ValidationError(
            {
                "mode": "By departure needs a departure time and an energy need, so it is set "
                "per session (a plan), not as the charger's default."
            }
        )
    with transaction.atomic():
        row, _ = ChargerMode.objects.update_or_create(
            charger=charger, defaults={"mode": mode, "updated_by": by}
        )
        _request_solve(charger.installation_id, "charge mode")
    return row


def charger_mode(charger: Charger) -> str:
    """The charger's default mode (Now when none was set)."""
    row = ChargerMode.objects.filter(charger=charger).values_list("mode", flat=True).first()
    return row or ChargeMode.NOW


# --- a session's plan ----------------------------------------------------------------------


def _active_session(charger: Charger) -> ChargeSession | None:
    return (
        ChargeSession.objects.filter(charger=charger, status=SessionStatus.ACTIVE)
        .order_by("-started_at", "-id")
        .first()
    )


def _may_operate(user: User | None, charger: Charger) -> bool:
    return (
        user is None
        or Charger.objects.restrict(user, Action.OPERATE).filter(pk=charger.pk).exists()
    )


def _current_soc(charger: Charger) -> float | None:
    from commands import routing

    return routing.live_states([charger.pk])[charger.pk].soc_percent


def validate_plan(
    *,
    mode: str,
    departure_at: datetime | None,
    energy_need_wh: Any,
    target_soc_percent: Any,
    now: datetime,
    soc_now: float | None = None,
    session_running: bool = False,
) -> dict[str, str]:
    """The problems of a plan, by field (empty: none). ``soc_now``: the SoC the charger reports
    now (None: none), checked when a session is running."""
    errors: dict[str, str] = {}
    if mode not in ChargeMode.values:
        errors["mode"] = f"Unknown mode {mode!r}; choose one of {', '.join(ChargeMode.values)}."
        return errors
    if mode != ChargeMode.DEPARTURE:
        if departure_at is not None:
            errors["departure_at"] = "A departure time belongs to the By departure mode only."
        if energy_need_wh is not None or target_soc_percent is not None:
            errors["energy_need_wh"] = "An energy need belongs to the By departure mode only."
        return errors
    if departure_at is None:
        errors["departure_at"] = "Give the departure time."
    elif departure_at.tzinfo is None:
        errors["departure_at"] = "Give the departure time with its time zone."
    elif departure_at <= now:
        errors["departure_at"] = "The departure time is in the past."
    elif departure_at < now + MIN_DEPARTURE_AHEAD:
        minutes = int(MIN_DEPARTURE_AHEAD.total_seconds() // 60)
        errors["departure_at"] = f"The departure must be at least {minutes} minutes from now."
    elif departure_at > now + MAX_DEPARTURE_AHEAD:
        errors["departure_at"] = f"The departure must be within {MAX_DEPARTURE_AHEAD.days} days."
    if (energy_need_wh is None) == (target_soc_percent is None):
        errors["energy_need_wh"] = "Give either the energy needed (kWh) or a target charge (%)."
        return errors
    if energy_need_wh is not None:
        if (
            isinstance(energy_need_wh, bool)
            or not isinstance(energy_need_wh, int | float)
            or not math.isfinite(energy_need_wh)
        ):
            errors["energy_need_wh"] = "The energy need must be a number of Wh."
        elif energy_need_wh <= 0:
            errors["energy_need_wh"] = "The energy need must be more than 0."
        elif energy_need_wh > MAX_ENERGY_NEED_WH:
            errors["energy_need_wh"] = (
                f"{energy_need_wh / 1000:g} kWh is more than any car takes "
                f"(at most {MAX_ENERGY_NEED_WH // 1000} kWh)."
            )
    else:
        if (
            isinstance(target_soc_percent, bool)
            or not isinstance(target_soc_percent, int | float)
            or not math.isfinite(target_soc_percent)
        ):
            errors["target_soc_percent"] = "The target charge must be a percentage."
        elif not 1 <= target_soc_percent <= 100:
            errors["target_soc_percent"] = "The target charge must be between 1 and 100 %."
        elif session_running and soc_now is None:
            errors["target_soc_percent"] = (
                "This charger does not report the car's charge level; give the energy in kWh."
            )
        elif soc_now is not None and target_soc_percent <= soc_now:
            errors["target_soc_percent"] = (
                f"The car is already at {soc_now:g} %; give a higher target."
            )
    return errors


def set_session_plan(
    charger: Charger,
    *,
    by: User | None,
    mode: str = ChargeMode.DEPARTURE,
    departure_at: datetime | None = None,
    energy_need_wh: int | float | None = None,
    target_soc_percent: int | float | None = None,
    now: datetime | None = None,
) -> SessionPlan:
    """Set the mode (and for By departure the departure and need) of the session running on
    ``charger``, or, with no car plugged in, of the next session that starts there within
    ``PLAN_CLAIM_MINUTES``. Replaces the plan it had. A driver (who may not operate the charger)
    may only plan a session that is theirs or has no account, and may not replace the waiting
    plan of someone else."""
    now = now or timezone.now()
    session = _active_session(charger)
    if (
        by is not None
        and session is not None
        and session.user_id not in (None, by.pk)
        and not _may_operate(by, charger)
    ):
        raise PermissionDenied("This is another driver's session.")
    soc_now = _current_soc(charger) if target_soc_percent is not None and session else None
    errors = validate_plan(
        mode=mode,
        departure_at=departure_at,
        energy_need_wh=energy_need_wh,
        target_soc_percent=target_soc_percent,
        now=now,
        soc_now=soc_now,
        session_running=session is not None,
    )
    if errors:
        raise ValidationError(errors)
    values = {
        "mode": mode,
        "departure_at": departure_at,
        "energy_need_wh": math.ceil(energy_need_wh) if energy_need_wh is not None else None,
        "target_soc_percent": round(target_soc_percent) if target_soc_percent is not None else None,
        "set_by": by,
        "baseline_energy_wh": session.energy_wh if session is not None else 0,
        "status": PlanStatus.PENDING,
        "plan": [],
        "planned_at": None,
        "cap_a": None,
        "reason": "",
        "needed_wh": None,
    }
    with transaction.atomic():
        if session is not None:
            previous = SessionPlan.objects.filter(session=session).first()
            if previous is not None and mode != ChargeMode.DEPARTURE:
                _clear_plan_profile(previous)
            plan, _ = SessionPlan.objects.update_or_create(
                session=session, defaults={**values, "charger": charger}
            )
        else:
            waiting = SessionPlan.objects.select_for_update().filter(
                charger=charger, session__isnull=True
            )
            if (
                by is not None
                and waiting.exclude(set_by=by).exists()
                and not _may_operate(by, charger)
            ):
                raise PermissionDenied("Someone else has planned the next session here.")
            waiting.delete()
            plan = SessionPlan.objects.create(charger=charger, **values)
        _request_solve(charger.installation_id, "session plan")
    return plan


def _clear_plan_profile(plan: SessionPlan) -> None:
    """A departure plan of a running session has its TxProfile on the charger (``modes.offline``),
    which overrides the balancing limit for the transaction: it goes with the plan. (Clearing one
    that was never sent is harmless: the charger answers Unknown.)"""
    from commands import routing

    if plan.mode != ChargeMode.DEPARTURE or plan.session_id is None:
        return
    if plan.session.status != SessionStatus.ACTIVE:
        return
    routing.issue_command(
        plan.charger,
        CommandAction.CLEAR_CHARGING_PROFILE,
        {"id": PLAN_PROFILE_ID},
        source=CommandSource.SYSTEM,
        timeout_s=15,
    )


def current_plan(charger: Charger, now: datetime | None = None) -> SessionPlan | None:
    """The plan of the session running on ``charger``, else the one waiting for its next
    session (while it may still be claimed)."""
    now = now or timezone.now()
    plans = SessionPlan.objects.filter(charger=charger).filter(
        Q(session__status=SessionStatus.ACTIVE)
        | Q(
            session__isnull=True,
            created_at__gt=now - timedelta(minutes=PLAN_CLAIM_MINUTES),
        )
    )
    return plans.order_by(F("session").asc(nulls_last=True), "-created_at").first()


def clear_session_plan(plan: SessionPlan, *, by: User | None = None) -> None:
    """Remove a plan: the session goes back to its charger's default mode."""
    if (
        by is not None
        and plan.set_by_id != by.pk
        and not (plan.session_id and plan.session.user_id == by.pk)
        and not _may_operate(by, plan.charger)
    ):
        raise PermissionDenied("This is another driver's plan.")
    installation_id = plan.charger.installation_id
    with transaction.atomic():
        _clear_plan_profile(plan)
        plan.delete()
        _request_solve(installation_id, "session plan")


# --- allowed hours -------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """One window as given by a form or the API."""

    day_type: str
    start_time: time
    end_time: time


def save_windows(
    installation: Installation, windows: Sequence[WindowSpec], *, charger: Charger | None = None
) -> list[ChargingWindow]:
    """Replace the allowed hours of ``installation`` (or of one of its chargers) with
    ``windows``; an empty list removes them (a charger then follows the installation's)."""
    if charger is not None and charger.installation_id != installation.pk:
        raise ValidationError({"charger": "This charger belongs to another installation."})
    for index, spec in enumerate(windows):
        if spec.day_type not in DayType.values:
            raise ValidationError(
                {"windows": f"Window {index + 1}: unknown day type {spec.day_type!r}."}
            )
        if not isinstance(spec.start_time, time) or not isinstance(spec.end_time, time):
            raise ValidationError({"windows": f"Window {index + 1}: give start and end times."})
    if len(windows) > 48:
        raise ValidationError({"windows": "At most 48 windows."})
    problem = hours.window_problem(
        [hours.Window(spec.day_type, spec.start_time, spec.end_time) for spec in windows]
    )
    if problem:
        raise ValidationError({"windows": problem})
    with transaction.atomic():
        ChargingWindow.objects.filter(installation=installation, charger=charger).delete()
        saved = ChargingWindow.objects.bulk_create(
            ChargingWindow(
                installation=installation,
                charger=charger,
                day_type=spec.day_type,
                start_time=spec.start_time.replace(second=0, microsecond=0),
                end_time=spec.end_time.replace(second=0, microsecond=0),
            )
            for spec in windows
        )
        _request_solve(installation.pk, "charging hours")
    return saved


def weekend_test(installation: Installation, around: datetime) -> Callable[[date], bool]:
    """Whether a local date counts as weekend: Saturday, Sunday, or one of the installation's
    holidays (``tariffs``) in the weeks around ``around``. One query."""
    first = around.date() - timedelta(days=2)
    holidays = holidays_between(installation, first, first + timedelta(days=hours.HORIZON_DAYS + 4))
    return lambda day: day.weekday() >= 5 or day in holidays


def windows_of(installation: Installation) -> dict[int | None, list[hours.Window]]:
    """Charger id (None: the installation's) -> its windows. One query."""
    found: dict[int | None, list[hours.Window]] = {}
    for row in ChargingWindow.objects.filter(installation=installation):
        found.setdefault(row.charger_id, []).append(
            hours.Window(row.day_type, row.start_time, row.end_time)
        )
    return found


def next_allowed(charger: Charger, now: datetime | None = None) -> datetime | None:
    """When ``charger`` may next charge in Scheduled mode: ``now`` when it may now, None when
    no window opens within two weeks (the charger page says "waits until HH:MM")."""
    now = now or timezone.now()
    installation = charger.installation
    windows = windows_of(installation)
    own = windows.get(charger.pk) or windows.get(None) or []
    return hours.next_allowed(
        own, now, ZoneInfo(installation.time_zone), weekend_test(installation, now)
    )


# --- surplus -------------------------------------------------------------------------------


def _minutes(value: Any, field: str, errors: dict[str, str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = "Give a whole number of minutes."
        return None
    if value < 0:
        errors[field] = "The number of minutes cannot be negative."
    elif value > MAX_HYSTERESIS_MINUTES:
        errors[field] = f"At most {MAX_HYSTERESIS_MINUTES} minutes."
    return value


def save_surplus_settings(
    installation: Installation,
    *,
    start_after_minutes: int,
    stop_after_minutes: int,
    one_phase_at_low_surplus: bool,
) -> SurplusSettings:
    """Set how surplus-mode cars start and stop on ``installation``."""
    errors: dict[str, str] = {}
    _minutes(start_after_minutes, "start_after_minutes", errors)
    _minutes(stop_after_minutes, "stop_after_minutes", errors)
    if not isinstance(one_phase_at_low_surplus, bool):
        errors["one_phase_at_low_surplus"] = "Give true or false."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row, _ = SurplusSettings.objects.update_or_create(
            installation=installation,
            defaults={
                "start_after_minutes": start_after_minutes,
                "stop_after_minutes": stop_after_minutes,
                "one_phase_at_low_surplus": one_phase_at_low_surplus,
            },
        )
        _request_solve(installation.pk, "surplus settings")
    return row


def report_surplus(
    installation: Installation,
    surplus_a: Any,
    *,
    valid_until: datetime | None = None,
    now: datetime | None = None,
) -> SurplusSettings:
    """Record the surplus a building meter or energy manager reports now: three currents, one
    per phase L1-L3, in A, that the installation exports (or could export); it applies until
    ``valid_until`` (default ``SURPLUS_READING_TTL`` from now, at most a day), then the surplus
    counts as zero."""
    now = now or timezone.now()
    if not isinstance(surplus_a, list | tuple) or len(surplus_a) != 3:
        raise ValidationError(
            {
                "surplus_a": "Give three currents, one per phase (L1, L2, L3), also on a 1-phase site."
            }
        )
    for value in surplus_a:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError({"surplus_a": "Each current must be a number of amperes."})
        if not 0 <= value <= MAX_SURPLUS_A:
            raise ValidationError(
                {"surplus_a": f"Each current must be between 0 and {MAX_SURPLUS_A:g} A."}
            )
    if valid_until is None:
        valid_until = now + SURPLUS_READING_TTL
    elif valid_until.tzinfo is None:
        raise ValidationError({"valid_until": "Give valid_until with its time zone."})
    elif valid_until <= now:
        raise ValidationError({"valid_until": "valid_until is in the past."})
    elif valid_until > now + MAX_SURPLUS_VALIDITY:
        raise ValidationError({"valid_until": "A reading may apply for at most a day."})
    values = {
        "surplus_a": [float(value) for value in surplus_a],
        "surplus_valid_until": valid_until,
        "surplus_reported_at": now,
    }
    with transaction.atomic():
        row, created = SurplusSettings.objects.get_or_create(
            installation=installation, defaults=values
        )
        if not created:  # only the reading's columns: never overwrite settings saved meanwhile
            SurplusSettings.objects.filter(pk=row.pk).update(**values)
            for key, value in values.items():
                setattr(row, key, value)
        _request_solve(installation.pk, "surplus reading")
    return row
