"""Upstream charging profiles as caps: the safety rule of the upstream bridge (docs/upstream.md).

A SetChargingProfile from upstream (or the profile of its RemoteStartTransaction) is a wish: it
is never sent to the charger. ``store`` keeps it as an ``UpstreamCap``; balancing
(``balancing.snapshot.build_scenario``) asks ``caps_of`` for the limit the stored profiles give
now and uses it as one more cap on the charger, below its own maximum: upstream can lower a car's
current, never raise it above what the fuses allow.

The pure part (``Profile``, ``limit_now``, ``charger_cap``) follows OCPP 1.6 3.13: per purpose,
the profile of the highest stack level that has a limit now wins; a TxProfile (of the
connector's running transaction) replaces the TxDefaultProfile (the connector's own, else
connector 0's); a ChargePointMaxProfile caps the whole charger. Limits in W become A with the
installation's voltage and the period's phases (``numberPhases``, else the charger's). On a
charger with several connectors balancing gives one limit per charger, so the lowest cap of the
connectors in use (with a car or a transaction; all when none is) is the charger's cap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from upstream.models import UpstreamCap, UpstreamTransaction

logger = logging.getLogger(__name__)

TX_PROFILE = "TxProfile"
TX_DEFAULT_PROFILE = "TxDefaultProfile"
CHARGE_POINT_MAX_PROFILE = "ChargePointMaxProfile"
RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}
# A remote start's profile waits this long for its transaction to begin, then lapses.
REMOTE_START_WAIT = timedelta(minutes=5)
DEFAULT_PHASES = 3  # OCPP 1.6: numberPhases absent means 3
# A charger keeps a few profiles (MaxChargingProfilesInstalled); upstream's are kept up to this.
MAX_PROFILES = 20
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # OCPP 1.6 integers, and the columns'


class CapRejected(Exception):
    """A profile OCPP says the charge point answers Rejected (the reason is logged)."""


@dataclass(frozen=True)
class Profile:
    """One stored upstream profile, as the pure functions read it."""

    connector_id: int
    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str
    schedule: dict[str, Any]
    valid_from: datetime | None
    valid_to: datetime | None
    created_at: datetime
    session_id: int | None = None

    @classmethod
    def of(cls, cap: UpstreamCap) -> Profile:
        return cls(
            cap.connector_id,
            cap.profile_id,
            cap.stack_level,
            cap.purpose,
            cap.kind,
            cap.recurrency,
            cap.schedule,
            cap.valid_from,
            cap.valid_to,
            cap.created_at,
            cap.session_id,
        )


@dataclass(frozen=True)
class Limit:
    """What one profile allows now, in A per phase, and when that may change next."""

    current_a: float
    changes_at: datetime | None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = parse_datetime(value)
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def limit_now(
    profile: Profile,
    now: datetime,
    *,
    voltage_v: float,
    charger_phases: int,
    transaction_start: datetime | None = None,
) -> Limit | None:
    """The limit ``profile`` gives at ``now`` (None: none now: not yet or no longer valid,
    before its schedule, past its duration). ``transaction_start`` anchors a Relative
    schedule (without it, the profile's arrival does)."""
    if profile.valid_to is not None and now >= profile.valid_to:
        return None
    if profile.valid_from is not None and now < profile.valid_from:
        return None
    schedule = profile.schedule
    periods = sorted(
        (p for p in schedule.get("chargingSchedulePeriod") or [] if isinstance(p, dict)),
        key=lambda p: p.get("startPeriod", 0),
    )
    if not periods:
        return None
    if profile.kind == "Relative":
        start = transaction_start or profile.created_at
    else:
        start = _time(schedule.get("startSchedule")) or profile.valid_from or profile.created_at
    cycle = RECURRENCE.get(profile.recurrency) if profile.kind == "Recurring" else None
    elapsed = now - start
    if elapsed < timedelta(0):
        return None  # its schedule has not begun (``_next_start`` says when it does)
    if cycle is not None:
        elapsed %= cycle
    cycle_start = now - elapsed
    duration = schedule.get("duration")
    end = cycle_start + timedelta(seconds=duration) if isinstance(duration, int) else None
    if end is not None and now >= end:
        return None  # past its duration: the profile below it applies again
    current = None
    changes_at = end
    for period in periods:
        begins = cycle_start + timedelta(seconds=int(period.get("startPeriod", 0)))
        if begins <= now:
            current = period
        else:
            changes_at = _earliest(changes_at, begins)
            break
    if current is None:
        return None
    if cycle is not None:
        changes_at = _earliest(changes_at, cycle_start + cycle)
    changes_at = _earliest(changes_at, profile.valid_to)
    limit = float(current.get("limit", 0))
    if schedule.get("chargingRateUnit") == "W":
        phases = min(int(current.get("numberPhases") or DEFAULT_PHASES), charger_phases)
        limit = limit / (voltage_v * max(1, phases))
    return Limit(max(0.0, limit), changes_at)


def _stacked(
    profiles: Iterable[Profile], now: datetime, **context: Any
) -> tuple[Limit | None, datetime | None]:
    """The limit of the highest stack level that has one now (OCPP 1.6 3.13.2), and the next
    moment any of them may change."""
    chosen: Limit | None = None
    chosen_level = -1
    changes: list[datetime | None] = []
    for profile in profiles:
        limit = limit_now(profile, now, **context)
        if profile.valid_from is not None and profile.valid_from > now:
            changes.append(profile.valid_from)
        if limit is None:
            changes.append(_next_start(profile, now, context.get("transaction_start")))
            continue
        changes.append(limit.changes_at)
        if profile.stack_level > chosen_level:
            chosen, chosen_level = limit, profile.stack_level
    return chosen, _earliest(*changes)


def _next_start(
    profile: Profile, now: datetime, transaction_start: datetime | None
) -> datetime | None:
    """When a profile without a limit now begins to give one (a schedule that starts later),
    if it does."""
    if profile.kind == "Relative":
        return None
    start = _time(profile.schedule.get("startSchedule"))
    return start if start is not None and start > now else None


def charger_cap(
    profiles: list[Profile],
    now: datetime,
    *,
    voltage_v: float,
    charger_phases: int,
    connectors_in_use: Iterable[int],
    transactions: dict[int, tuple[int, datetime]],
) -> tuple[float | None, datetime | None]:
    """The cap (A per phase) the stored profiles put on a charger now, or None; and the next
    moment it may change (balancing runs again by then: the sweep).

    ``transactions``: connector id -> (session id, start) of the running transactions; a
    TxProfile counts only on its own transaction's connector."""
    context = {"voltage_v": voltage_v, "charger_phases": charger_phases}
    changes: list[datetime | None] = []
    caps: list[float] = []
    maximum, changes_at = _stacked(
        (p for p in profiles if p.purpose == CHARGE_POINT_MAX_PROFILE), now, **context
    )
    changes.append(changes_at)
    if maximum is not None:
        caps.append(maximum.current_a)
    defaults_0 = [p for p in profiles if p.purpose == TX_DEFAULT_PROFILE and p.connector_id == 0]
    connector_limits = []
    for connector in connectors_in_use:
        session_id, started = transactions.get(connector, (None, None))
        tx, changes_at = _stacked(
            (
                p
                for p in profiles
                if p.purpose == TX_PROFILE
                and p.connector_id == connector
                and session_id is not None
                and p.session_id == session_id
            ),
            now,
            transaction_start=started,
            **context,
        )
        changes.append(changes_at)
        own = [
            p for p in profiles if p.purpose == TX_DEFAULT_PROFILE and p.connector_id == connector
        ]
        default, own_changes = _stacked(own, now, transaction_start=started, **context)
        default_0, zero_changes = _stacked(defaults_0, now, transaction_start=started, **context)
        changes += [own_changes, zero_changes]
        limit = tx or default or default_0
        if limit is not None:
            connector_limits.append(limit.current_a)
    if connector_limits:
        caps.append(min(connector_limits))
    return (min(caps) if caps else None), _earliest(*changes)


# --- the database side ---------------------------------------------------------------------


def _active_session(charger_id: int, connector_id: int) -> ChargeSession | None:
    return (
        ChargeSession.objects.filter(
            charger_id=charger_id,
            connector__connector_id=connector_id,
            status=SessionStatus.ACTIVE,
        )
        .order_by("-started_at")
        .first()
    )


def store(
    charger_id: int, connector_id: int, profile: dict[str, Any], *, remote_start: bool = False
) -> UpstreamCap:
    """Keep upstream's profile (``csChargingProfiles``, camelCase as sent) as a cap (the caller
    asks balancing for a solve: ``ocpp_bridge.upstream.inbound_store``), replacing
    the one of the same id, or of the same connector, purpose and stack level (OCPP 1.6
    3.13.2). Raises ``CapRejected`` for what a charge point rejects: a TxProfile without a
    running transaction on its connector (or for an unknown transaction), a TxProfile on
    connector 0, a ChargePointMaxProfile on another. ``remote_start``: the profile of a
    RemoteStartTransaction, bound to the transaction that begins next on the connector."""
    purpose = profile["chargingProfilePurpose"]
    schedule = profile["chargingSchedule"]
    numbers = [profile["chargingProfileId"], profile["stackLevel"], profile.get("transactionId", 0)]
    numbers += [schedule.get("duration", 0)]
    numbers += [period["startPeriod"] for period in schedule["chargingSchedulePeriod"]]
    if not all(INT32_MIN <= number <= INT32_MAX for number in numbers):
        raise CapRejected("a number beyond 32 bits")
    kept = UpstreamCap.objects.filter(charger_id=charger_id)
    replaced = kept.filter(
        Q(profile_id=profile["chargingProfileId"])
        | Q(connector_id=connector_id, purpose=purpose, stack_level=profile["stackLevel"])
    )
    if kept.count() >= MAX_PROFILES and not replaced.exists():
        raise CapRejected(f"{MAX_PROFILES} profiles are kept per charger")
    session_id: int | None = None
    upstream_tx = profile.get("transactionId")
    if remote_start and purpose != TX_PROFILE:
        raise CapRejected("a remote start's profile is a TxProfile")
    if purpose == CHARGE_POINT_MAX_PROFILE and connector_id != 0:
        raise CapRejected("a ChargePointMaxProfile is for connector 0")
    if purpose == TX_PROFILE and not remote_start:
        if connector_id == 0:
            raise CapRejected("a TxProfile is for a connector, not 0")
        session = _active_session(charger_id, connector_id)
        if session is None:
            raise CapRejected(f"no transaction on connector {connector_id}")
        if upstream_tx is not None:
            mapped = UpstreamTransaction.objects.filter(
                charger_id=charger_id, upstream_transaction_id=upstream_tx
            ).values_list("session_id", flat=True)
            if session.pk not in mapped:
                raise CapRejected(f"transaction {upstream_tx} is not running on {connector_id}")
        session_id = session.pk
    with transaction.atomic():
        lapse(charger_id)
        replaced.delete()
        cap = UpstreamCap.objects.create(
            charger_id=charger_id,
            connector_id=connector_id,
            profile_id=profile["chargingProfileId"],
            stack_level=profile["stackLevel"],
            purpose=purpose,
            kind=profile["chargingProfileKind"],
            recurrency=profile.get("recurrencyKind") or "",
            session_id=session_id,
            upstream_transaction_id=upstream_tx,
            schedule=schedule,
            valid_from=_time(profile.get("validFrom")),
            valid_to=_time(profile.get("validTo")),
        )
    return cap


def clear(
    charger_id: int,
    *,
    profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> int:
    """ClearChargingProfile (OCPP 1.6 5.5): by id, else every profile matching all the
    criteria given (none: all of them). Returns how many went (0: upstream hears Unknown)."""
    caps = UpstreamCap.objects.filter(charger_id=charger_id)
    if profile_id is not None:
        caps = caps.filter(profile_id=profile_id)
    else:
        if connector_id is not None:
            caps = caps.filter(connector_id=connector_id)
        if purpose is not None:
            caps = caps.filter(purpose=purpose)
        if stack_level is not None:
            caps = caps.filter(stack_level=stack_level)
    return caps.delete()[0]


def lapse(charger_id: int | None = None, now: datetime | None = None) -> int:
    """Remove the caps that no longer apply: a TxProfile whose transaction ended, a remote
    start's profile whose transaction never began, a profile past its validTo."""
    now = now or timezone.now()
    caps = UpstreamCap.objects.all()
    if charger_id is not None:
        caps = caps.filter(charger_id=charger_id)
    gone = caps.filter(
        Q(session__isnull=False) & ~Q(session__status=SessionStatus.ACTIVE)
        | Q(purpose=TX_PROFILE, session__isnull=True, created_at__lt=now - REMOTE_START_WAIT)
        | Q(valid_to__lte=now)
    )
    return gone.delete()[0]


def _bind_remote_starts(
    caps: list[UpstreamCap], sessions: dict[tuple[int, int], ChargeSession]
) -> None:
    """A remote start's profile belongs to the transaction on its connector that began after it
    arrived (a minute of clock difference allowed), within ``REMOTE_START_WAIT``."""
    for cap in caps:
        if cap.purpose != TX_PROFILE or cap.session_id is not None:
            continue
        session = sessions.get((cap.charger_id, cap.connector_id))
        if (
            session is not None
            and cap.created_at - timedelta(minutes=1)
            <= session.started_at
            <= cap.created_at + REMOTE_START_WAIT
        ):
            UpstreamCap.objects.filter(pk=cap.pk, session__isnull=True).update(session=session)
            cap.session_id = session.pk


def caps_of(
    chargers: list[Any], in_use: dict[int, set[int]], *, voltage_v: float, now: datetime
) -> dict[int, tuple[float, datetime | None]]:
    """Charger id -> (cap in A, next change) for the chargers with an upstream cap now.

    ``chargers``: with their connectors prefetched; ``in_use``: charger id -> the connector
    ids with a car. One query when no charger has a stored profile (the usual case)."""
    caps = list(UpstreamCap.objects.filter(charger__in=[c.pk for c in chargers]))
    if not caps:
        return {}
    capped = {cap.charger_id for cap in caps}
    running = {
        (s.charger_id, s.connector.connector_id): s
        for s in ChargeSession.objects.filter(
            charger__in=capped, status=SessionStatus.ACTIVE
        ).select_related("connector")
    }
    _bind_remote_starts(caps, running)
    by_charger: dict[int, list[Profile]] = {}
    for cap in caps:
        by_charger.setdefault(cap.charger_id, []).append(Profile.of(cap))
    found: dict[int, tuple[float, datetime | None]] = {}
    for charger in chargers:
        profiles = by_charger.get(charger.pk)
        if not profiles:
            continue
        transactions = {
            connector: (session.pk, session.started_at)
            for (charger_id, connector), session in running.items()
            if charger_id == charger.pk
        }
        connectors = set(in_use.get(charger.pk, set())) | set(transactions)
        if not connectors:
            connectors = {c.connector_id for c in charger.connectors.all() if c.connector_id} or {1}
        try:
            cap, changes_at = charger_cap(
                profiles,
                now,
                voltage_v=voltage_v,
                charger_phases=charger.phases,
                connectors_in_use=sorted(connectors),
                transactions=transactions,
            )
        except (ArithmeticError, ValueError, TypeError, KeyError):
            # A schedule no arithmetic can follow (a date near year 9999, ...): upstream's wish
            # is ignored, never the balancing of the installation.
            logger.exception("Upstream profiles of charger %s cannot be read", charger.pk)
            continue
        if cap is not None:
            found[charger.pk] = (cap, changes_at)
    return found
