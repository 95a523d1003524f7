"""Transactions: StartTransaction, StopTransaction (late and repeated ones included) and sessions
closed on evidence (``close_inferred``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

from auth_access import checks, reservations
from auth_access.choices import AuthorizationTrigger
from balancing.triggers import charger_changed
from chargers.choices import ConnectorStatus, EventKind, SessionStatus, StopReason
from chargers.models import ChargerEvent, ChargeSession, Connector, MeterValue
from events.choices import EventType
from events.services import Draft, emit_many
from ocpp_bridge.persistence.meters import adopt_signed_values
from ocpp_bridge.persistence.records import (
    StartOutcome,
    StopOutcome,
    clipped,
)
from ocpp_bridge.persistence.reports import seconds_since_charging
from upstream import outbox
from upstream.choices import QueuedAction

logger = logging.getLogger(__name__)


def _stopped(
    charger_id: int,
    connector_id: int,
    session_id: int,
    stopped_at: datetime,
    energy_wh: int,
    reason: str,
    driver_id: int | None,
    inferred: bool,
) -> Draft:
    """The ``session.stopped`` event of a session (docs/events.md)."""
    return Draft(
        EventType.SESSION_STOPPED,
        charger_id,
        connector_id=connector_id,
        occurred_at=stopped_at,
        session_id=session_id,
        payload={
            "session_id": session_id,
            "energy_wh": energy_wh,
            "stop_reason": reason,
            "inferred": inferred,
            "driver_id": driver_id,
        },
    )


def _corrected(
    stopped: Draft, stopped_at: datetime, inferred_wh: int | None, inferred_at: datetime | None
) -> Draft:
    """The ``session.corrected`` event of a session closed by inference whose StopTransaction
    came later: the charger's figures (those of ``stopped``) and the ones they replace."""
    payload = stopped.payload
    return Draft(
        EventType.SESSION_CORRECTED,
        stopped.charger_id,
        connector_id=stopped.connector_id,
        occurred_at=stopped_at,
        session_id=stopped.session_id,
        payload={
            "session_id": payload["session_id"],
            "energy_wh": payload["energy_wh"],
            "stopped_at": stopped_at.isoformat(),
            "stop_reason": payload["stop_reason"],
            "driver_id": payload["driver_id"],
            "inferred_energy_wh": inferred_wh,
            "inferred_stopped_at": inferred_at.isoformat() if inferred_at else None,
        },
    )


def start_transaction(
    charger_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: datetime,
    reservation_id: int | None,
    upstream: dict[str, Any] | None = None,
) -> StartOutcome:
    """Create the session (accepted or not, the charger holds a transaction now); a retried
    StartTransaction finds the session it created and creates nothing. ``upstream``: the
    StartTransaction as the charger sent it, for a bridged charger: queued for upstream with
    the session (and a StopTransaction for a session this start closes)."""
    close_old_connections()
    check = checks.begin(charger_id, id_tag, AuthorizationTrigger.START, connector_id=connector_id)
    decision = check.decision
    key = {
        "charger_id": charger_id,
        "connector__connector_id": connector_id,
        "id_tag": id_tag,
        "started_at": started_at,
        "meter_start_wh": meter_start_wh,
    }
    existing = ChargeSession.objects.filter(**key).values_list("id", flat=True).first()
    if existing is not None:
        return StartOutcome(existing, decision, created=False, check=check)
    connector, _ = Connector.objects.get_or_create(charger_id=charger_id, connector_id=connector_id)
    try:
        with transaction.atomic():
            # A session the charger never stopped on this connector ended when this one began.
            left_open = ChargeSession.objects.filter(
                charger_id=charger_id,
                connector=connector,
                status=SessionStatus.ACTIVE,
                started_at__lte=started_at,
            )
            ended = list(left_open.values_list("pk", "meter_start_wh", "energy_wh", "user_id"))
            left_open.update(
                status=SessionStatus.COMPLETED,
                stopped_at=started_at,
                stop_reason=StopReason.OTHER,
                stop_inferred=True,
                charging_seconds=F("charging_seconds")
                + Coalesce(seconds_since_charging(started_at), Value(0)),
                charging_since=None,
            )
            session = ChargeSession.objects.create(
                charger_id=charger_id,
                connector=connector,
                id_tag=id_tag,
                user_id=decision.user_id,
                card_id=decision.card_id,
                started_at=started_at,
                meter_start_wh=meter_start_wh,
                reservation_id=reservation_id,
                charging_since=started_at if connector.status == ConnectorStatus.CHARGING else None,
            )
            adopt_signed_values(session)
            if upstream is not None:
                for pk, meter_start, energy, _ in ended:
                    _queue_stop(charger_id, pk, meter_start + energy, started_at, StopReason.OTHER)
                outbox.queue_message(
                    charger_id, session.pk, QueuedAction.START_TRANSACTION, upstream
                )
            emit_many(
                [
                    *(
                        _stopped(
                            charger_id,
                            connector_id,
                            pk,
                            started_at,
                            energy,
                            StopReason.OTHER,
                            user,
                            True,
                        )
                        for pk, _, energy, user in ended
                    ),
                    Draft(
                        EventType.SESSION_STARTED,
                        charger_id,
                        connector_id=connector_id,
                        occurred_at=started_at,
                        session_id=session.pk,
                        payload={
                            "session_id": session.pk,
                            "meter_start_wh": meter_start_wh,
                            "driver_id": decision.user_id,
                            "authorized": decision.accepted,
                        },
                    ),
                ]
            )
    except IntegrityError:  # the same StartTransaction, retried concurrently
        return StartOutcome(
            ChargeSession.objects.filter(**key).values_list("id", flat=True).get(),
            decision,
            created=False,
            check=check,
        )
    # The charger consumed the reservation it names (or held for this idTag), accepted or not.
    reservations.use(charger_id, connector_id, id_tag, reservation_id, session.pk, started_at)
    if check.virtual and decision.accepted:
        checks.link_remote_start(check, session.pk)
    return StartOutcome(session.pk, decision, created=True, check=check)


def stop_transaction(
    charger_id: int,
    transaction_id: int,
    meter_stop_wh: int,
    stopped_at: datetime,
    reason: str | None,
    id_tag: str | None,
    upstream: dict[str, Any] | None = None,
) -> StopOutcome:
    """Complete the session (once: a retried StopTransaction changes nothing). A session
    closed by inference (``close_inferred``, or a later StartTransaction on its connector) takes
    the charger's values instead, and loses its ``stop_inferred`` flag. ``upstream``: the
    StopTransaction as the charger sent it, for a bridged charger: queued with the stop (after a
    stop by inference, it replaces the inferred one if that still waits; never a second one)."""
    close_old_connections()
    decision = None
    if id_tag:
        decision = checks.begin(charger_id, id_tag, AuthorizationTrigger.STOP).decision
    session = ChargeSession.objects.filter(charger_id=charger_id, pk=transaction_id)
    found = session.values_list(
        "connector__connector_id", "status", "stop_inferred", "meter_start_wh", "user_id",
        "energy_wh", "stopped_at",
    ).first()  # fmt: skip
    if found is None:
        return StopOutcome(found=False, connector_id=None, decision=decision)
    connector_id, status, inferred, meter_start_wh, user_id, inferred_wh, inferred_at = found
    stop = {
        "stopped_at": stopped_at,
        "meter_stop_wh": meter_stop_wh,
        "energy_wh": Greatest(Value(0), Value(meter_stop_wh) - F("meter_start_wh")),
        "stop_reason": reason or StopReason.LOCAL,
        "stop_id_tag": id_tag or "",
        "stop_inferred": False,
    }
    energy_wh = max(0, meter_stop_wh - meter_start_wh)
    stopped = _stopped(
        charger_id, connector_id, transaction_id, stopped_at, energy_wh, stop["stop_reason"],
        user_id, False,
    )  # fmt: skip
    if status == SessionStatus.ACTIVE and _complete(session, stop, stopped, upstream):
        return StopOutcome(found=True, connector_id=connector_id, decision=decision)
    # (Closed meanwhile by the offline sweep: then it is inferred, below.)
    if not inferred and status != SessionStatus.ACTIVE:
        # Stopped by the charger already: this is its StopTransaction again (a retry, or its
        # offline queue replayed after a reconnect). The first one stays.
        return StopOutcome(found=True, connector_id=connector_id, decision=decision, repeated=True)
    # Closed by inference: the charger's own values replace Fusebox's evidence. Conditional on
    # the flag, so a repeat of this late StopTransaction changes nothing more.
    with transaction.atomic():
        late = (
            session.filter(stop_inferred=True).exclude(status=SessionStatus.ACTIVE).update(**stop)
        )
        if late and upstream is not None:
            outbox.replace_inferred_stop(transaction_id, upstream)
        if late:
            emit_many([_corrected(stopped, stopped_at, inferred_wh, inferred_at)])
    if late:
        charger_changed(charger_id, "late StopTransaction")
        return StopOutcome(found=True, connector_id=connector_id, decision=decision)
    return StopOutcome(found=True, connector_id=connector_id, decision=decision, repeated=True)


def _complete(
    session: QuerySet[ChargeSession],
    stop: dict[str, Any],
    stopped: Draft,
    upstream: dict[str, Any] | None = None,
) -> bool:
    """Complete an active session with the charger's values and write its ``session.stopped``
    (``stopped``) and, bridged, the StopTransaction for upstream (``upstream``), in one
    transaction; False if it was no longer active."""
    with transaction.atomic():
        if not session.filter(status=SessionStatus.ACTIVE).update(
            status=SessionStatus.COMPLETED,
            charging_seconds=F("charging_seconds")
            + Coalesce(seconds_since_charging(stop["stopped_at"]), Value(0)),
            charging_since=None,
            **stop,
        ):
            return False
        emit_many([stopped])
        if upstream is not None:
            outbox.queue_message(
                stopped.charger_id or 0, stopped.session_id, QueuedAction.STOP_TRANSACTION, upstream
            )
    return True


def _queue_stop(
    charger_id: int, session_id: int, meter_stop: int, stopped_at: datetime, reason: str
) -> None:
    """The StopTransaction upstream gets for a session Fusebox closed by inference."""
    payload = {
        "transactionId": session_id,
        "meterStop": meter_stop,
        "timestamp": stopped_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reason": str(reason),
    }
    outbox.queue_message(charger_id, session_id, QueuedAction.STOP_TRANSACTION, payload)


def close_inferred(
    charger_id: int,
    reason: StopReason,
    evidence_at: datetime,
    connector_id: int | None = None,
    last_seen_at: datetime | None = None,
    registers: dict[int, tuple[datetime, float]] | None = None,
    upstream: bool = False,
) -> list[int]:
    """Close the charger's active sessions (on ``connector_id`` only, if given) that the charger
    ended without a StopTransaction: a reboot, the connector Available again, a long absence.
    End time and meter stop are the session's last ``Energy.Active.Import.Register`` before
    ``evidence_at``; without one, ``last_seen_at`` if given (never before the start), else
    ``evidence_at``, and the live energy. ``registers``: connector -> (time, Wh) of the latest
    register the bridge holds in memory (its rows may still wait in the meter buffer); the later
    of it and the stored one counts. ``stop_inferred`` says so.
    Conditional updates (still active): running it twice, or beside a StopTransaction, closes a
    session once. ``upstream``: the charger is bridged: a StopTransaction is queued for upstream
    for each session closed. The closed sessions' ids."""
    close_old_connections()
    with transaction.atomic():  # the closes and their events together
        sessions = ChargeSession.objects.filter(
            charger_id=charger_id, status=SessionStatus.ACTIVE, started_at__lte=evidence_at
        )
        if connector_id is not None:
            sessions = sessions.filter(connector__connector_id=connector_id)
        closed = []
        stopped: list[Draft] = []
        for pk, connector, started_at, meter_start, energy, user_id in sessions.values_list(
            "pk", "connector__connector_id", "started_at", "meter_start_wh", "energy_wh", "user_id"
        ):
            stored = (
                MeterValue.objects.filter(
                    charger_id=charger_id,
                    connector_id=connector,
                    measurand="Energy.Active.Import.Register",
                    phase="",
                    location__in=("", "Outlet"),
                    timestamp__gte=started_at,
                    timestamp__lte=evidence_at,
                )
                .order_by("-timestamp")
                .values_list("timestamp", "value", "unit")
                .first()
            )  # rows the buffer still holds are in ``registers``
            last: tuple[datetime, float] | None = None
            if stored is not None:
                at, value, unit = stored
                last = (at, value * 1000 if unit == "kWh" else value)
            held = (registers or {}).get(connector)
            if held is not None and started_at <= held[0] <= evidence_at:
                last = max(last, held, key=lambda found: found[0]) if last else held
            if last is not None:
                stopped_at, meter_stop = last[0], round(last[1])
            else:
                stopped_at = max(started_at, last_seen_at) if last_seen_at else evidence_at
                meter_stop = meter_start + energy
            if ChargeSession.objects.filter(pk=pk, status=SessionStatus.ACTIVE).update(
                status=SessionStatus.COMPLETED,
                stopped_at=stopped_at,
                meter_stop_wh=meter_stop,
                energy_wh=max(0, meter_stop - meter_start),
                stop_reason=reason,
                stop_inferred=True,
                charging_seconds=F("charging_seconds")
                + Coalesce(seconds_since_charging(stopped_at), Value(0)),
                charging_since=None,
            ):
                closed.append(pk)
                if upstream:
                    _queue_stop(charger_id, pk, meter_stop, stopped_at, reason)
                energy_wh = max(0, meter_stop - meter_start)
                stopped.append(
                    _stopped(
                        charger_id, connector, pk, stopped_at, energy_wh, reason, user_id, True
                    )
                )
        if closed:
            emit_many(stopped)
            ChargerEvent.objects.create(
                charger_id=charger_id,
                kind=EventKind.STATUS,
                timestamp=evidence_at,
                summary=clipped(
                    f"Session {', '.join(map(str, closed))} closed without StopTransaction ({reason})"
                ),
            )
            charger_changed(charger_id, f"sessions closed ({reason})")
    return closed
