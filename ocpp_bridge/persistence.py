"""The bridge's database work: plain sync functions, called from the event loop through
``Bridge.db`` (``sync_to_async`` on a thread pool of the bridge's own).

Every function starts with ``close_old_connections()`` (as healthchecks' smtpd does), so a
long-running bridge drops connections that are broken or past ``CONN_MAX_AGE``. Timestamps are
the charger's own: messages it queued while offline are stored at the time they happened.
Volume writes (meter values, last-seen times) take whole batches and run a constant number of
statements per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import DurationField, ExpressionWrapper, F, IntegerField, Q, Value
from django.db.models.functions import Cast, Coalesce, Extract, Greatest
from django.utils import timezone

from auth_access import checks, reservations
from auth_access.choices import AuthorizationTrigger
from auth_access.decisions import Decision
from balancing.triggers import charger_changed, chargers_changed
from chargers.choices import ConnectorStatus, EventKind, SessionStatus, StopReason
from chargers.models import Charger, ChargerEvent, ChargeSession, Connector, MeterValue
from commands.choices import CommandStatus
from commands.models import Command
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt

logger = logging.getLogger(__name__)

# A connector the charger reports beyond this number gets events, not a Connector row.
MAX_CONNECTOR_ID = 16

# Order of the values of one meter row, as ``meter_buffer`` builds them.
METER_FIELDS = (
    "charger",
    "connector_id",
    "transaction_id",
    "timestamp",
    "measurand",
    "phase",
    "value",
    "unit",
    "context",
    "location",
)
MeterRow = tuple[int, int, int | None, datetime, str, str, float, str, str, str]


@dataclass(frozen=True)
class ActiveSession:
    """What a connection remembers of a transaction in progress on a connector."""

    transaction_id: int
    meter_start_wh: int


class ReportedState(NamedTuple):
    """What a connector last reported, as stored on the Connector row."""

    status: str
    error_code: str  # "" for NoError
    info: str
    vendor_error_code: str


@dataclass(frozen=True)
class ConnectedState:
    """What a new connection loads once: connector states and sessions in progress."""

    connectors: dict[int, ReportedState]
    active_sessions: dict[int, ActiveSession]


@dataclass(frozen=True)
class StartOutcome:
    transaction_id: int
    decision: Decision  # the local decision; ``check`` says whether an external one follows
    created: bool
    check: checks.Check | None = None


@dataclass(frozen=True)
class StopOutcome:
    found: bool
    connector_id: int | None
    decision: Decision | None
    repeated: bool = False  # the session had these very stop values already: store nothing new


@dataclass(frozen=True)
class CommandToSend:
    id: int
    identity: str
    action: str
    payload: dict[str, Any]
    timeout_s: float


def _summary(text: str) -> str:
    return text if len(text) <= 200 else text[:199] + "…"


# --- connections -----------------------------------------------------------------------------


def find_chargers(identities: Collection[str]) -> dict[str, tuple[Charger, ConnectedState]]:
    """The chargers with these OCPP identities (checked at the websocket upgrade), each with
    what its connection keeps in memory (connector statuses, sessions in progress); unknown
    identities are left out. Three queries for any number of identities: in a reconnect storm
    the upgrades are looked up in batches."""
    close_old_connections()
    chargers = {
        c.pk: c
        for c in Charger.objects.filter(ocpp_identity__in=identities)
        .select_related("installation")
        .order_by()
    }
    connectors: dict[int, dict[int, ReportedState]] = {pk: {} for pk in chargers}
    reports = Connector.objects.filter(charger_id__in=chargers).values_list(
        "charger_id", "connector_id", "status", "error_code", "info", "vendor_error_code"
    )
    for charger_id, connector_id, *reported in reports:
        connectors[charger_id][connector_id] = ReportedState(*reported)
    sessions: dict[int, dict[int, ActiveSession]] = {pk: {} for pk in chargers}
    for charger_id, connector_id, tx, start in (
        ChargeSession.objects.filter(charger_id__in=chargers, status=SessionStatus.ACTIVE)
        .order_by("started_at")
        .values_list("charger_id", "connector__connector_id", "id", "meter_start_wh")
    ):
        sessions[charger_id][connector_id] = ActiveSession(tx, start)
    return {
        charger.ocpp_identity: (charger, ConnectedState(connectors[pk], sessions[pk]))
        for pk, charger in chargers.items()
    }


def record_refused_attempt(identity: str, reason: AttemptReason, remote_address: str) -> None:
    """Count a refused upgrade, folded per identity and reason (one statement, race-free)."""
    close_old_connections()
    table = connection.ops.quote_name(ConnectionAttempt._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (identity, reason, remote_address, first_seen_at,"
            " last_seen_at, attempts) VALUES (%s, %s, %s, %s, %s, 1)"
            " ON CONFLICT (identity, reason) DO UPDATE SET"
            f" attempts = {table}.attempts + 1, last_seen_at = EXCLUDED.last_seen_at,"
            " remote_address = EXCLUDED.remote_address",
            [identity[:100], str(reason), remote_address[:64], now, now],
        )


@dataclass(frozen=True)
class OnlineChange:
    """A charger connected (online) or disconnected, with the event that says so."""

    charger_id: int
    online: bool
    at: datetime
    summary: str


def record_online_changes(changes: Sequence[OnlineChange], seen: dict[int, datetime]) -> None:
    """Connects and disconnects of a while, in order, in two statements: their events, and each
    charger's latest online flag; also moves ``last_seen_at`` forward (``seen``).

    Rows of chargers deleted meanwhile are dropped with a log line: their events would fail on
    the foreign key, and a batch that fails is retried, so one deleted charger would otherwise
    stop every charger's online state from being saved. (A charger deleted between this check
    and the commit fails the batch once; the retry drops it.)"""
    close_old_connections()
    changes, seen = _of_existing_chargers(changes, seen)
    with transaction.atomic():  # all or nothing: a retried batch never repeats its events
        _write_online_changes(changes, seen)


def _of_existing_chargers(
    changes: Sequence[OnlineChange], seen: dict[int, datetime]
) -> tuple[Sequence[OnlineChange], dict[int, datetime]]:
    ids = {change.charger_id for change in changes} | seen.keys()
    existing = set(Charger.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if gone := ids - existing:
        logger.warning(
            "Online states of %d deleted chargers dropped (ids %s)",
            len(gone),
            ", ".join(map(str, sorted(gone))),
        )
        changes = [change for change in changes if change.charger_id in existing]
        seen = {charger_id: at for charger_id, at in seen.items() if charger_id in existing}
    return changes, seen


def _write_online_changes(changes: Sequence[OnlineChange], seen: dict[int, datetime]) -> None:
    if changes:
        ChargerEvent.objects.bulk_create(
            ChargerEvent(
                charger_id=change.charger_id,
                kind=EventKind.CONNECTED if change.online else EventKind.DISCONNECTED,
                timestamp=change.at,
                summary=change.summary,
            )
            for change in changes
        )
        chargers_changed({change.charger_id for change in changes}, "chargers online/offline")
    latest = {change.charger_id: change for change in changes}
    rows = {charger_id: (None, at) for charger_id, at in seen.items() if charger_id not in latest}
    rows.update({cid: (change.online, change.at) for cid, change in latest.items()})
    if not rows:
        return
    table = connection.ops.quote_name(Charger._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::boolean, %s::timestamptz)"] * len(rows))
    params: list[Any] = [item for cid, (online, at) in rows.items() for item in (cid, online, at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET is_online = COALESCE(v.online, c.is_online),"
            " last_seen_at = GREATEST(c.last_seen_at, v.seen)"
            f" FROM (VALUES {values}) AS v(id, online, seen) WHERE c.id = v.id",
            params,
        )


# --- what chargers report --------------------------------------------------------------------


def record_event(
    charger_id: int,
    kind: EventKind,
    timestamp: datetime,
    summary: str,
    data: dict[str, Any],
    connector_id: int = 0,
) -> None:
    close_old_connections()
    ChargerEvent.objects.create(
        charger_id=charger_id,
        connector_id=connector_id,
        kind=kind,
        timestamp=timestamp,
        summary=_summary(summary),
        data=data,
    )


def record_boot(charger_id: int, boot_info: dict[str, Any], now: datetime) -> None:
    """Store what the charger says it is (vendor, model, serials, firmware) and when it booted."""
    close_old_connections()
    vendor = boot_info.get("chargePointVendor", "")
    model = boot_info.get("chargePointModel", "")
    serial = boot_info.get("chargePointSerialNumber") or boot_info.get("chargeBoxSerialNumber")
    firmware = boot_info.get("firmwareVersion", "")
    Charger.objects.filter(pk=charger_id).update(
        vendor=vendor[:50],
        model=model[:50],
        serial_number=(serial or "")[:50],
        firmware_version=firmware[:50],
        boot_info=boot_info,
        last_boot_at=now,
        last_seen_at=now,
        is_online=True,
        # A rebooted charger may have lost its charging profiles: balancing sends them again.
        failsafe_sent_a=None,
        limit_sent_at=None,
    )
    summary = f"Booted: {vendor} {model}" + (f", firmware {firmware}" if firmware else "")
    ChargerEvent.objects.create(
        charger_id=charger_id,
        kind=EventKind.BOOT,
        timestamp=now,
        summary=_summary(summary),
        data=boot_info,
    )
    charger_changed(charger_id, "charger booted")


@dataclass(frozen=True)
class StatusReport:
    """One StatusNotification, timestamps parsed."""

    connector_id: int
    status: str
    error_code: str
    timestamp: datetime
    info: str = ""
    vendor_id: str = ""
    vendor_error_code: str = ""

    def state(self) -> ReportedState:
        error_code = "" if self.error_code == "NoError" else self.error_code
        return ReportedState(self.status, error_code, self.info[:50], self.vendor_error_code[:50])


def record_status(charger_id: int, report: StatusReport, changed: bool, in_session: bool) -> None:
    """Connector status (if newer than what we have), charging time of the session in progress
    (``in_session``: the connection knows one), status and fault events. A few conditional
    statements, no locks: a charger's messages are stored one after the other."""
    close_old_connections()
    where = f"Connector {report.connector_id}" if report.connector_id else "Charger"
    events = []
    if changed:
        events.append((EventKind.STATUS, f"{where}: {report.status}"))
    if report.error_code != "NoError":
        detail = ", ".join(x for x in (report.info, report.vendor_error_code) if x)
        events.append(
            (EventKind.FAULT, f"{where}: {report.error_code}" + (f" ({detail})" if detail else ""))
        )
    if 1 <= report.connector_id <= MAX_CONNECTOR_ID:
        _update_connector(charger_id, report)
        if in_session or report.status == ConnectorStatus.CHARGING:
            _update_charging_clock(charger_id, report)
        if changed:  # a car plugged in or out, started or stopped drawing
            charger_changed(charger_id, f"{where}: {report.status}")
    if events:
        data = {
            "status": report.status,
            "errorCode": report.error_code,
            "info": report.info,
            "vendorId": report.vendor_id,
            "vendorErrorCode": report.vendor_error_code,
        }
        ChargerEvent.objects.bulk_create(
            ChargerEvent(
                charger_id=charger_id,
                connector_id=report.connector_id,
                kind=kind,
                timestamp=report.timestamp,
                summary=_summary(summary),
                data=data,
            )
            for kind, summary in events
        )


def _update_connector(charger_id: int, report: StatusReport) -> None:
    fields = {**report.state()._asdict(), "status_updated_at": report.timestamp}
    connector = Connector.objects.filter(charger_id=charger_id, connector_id=report.connector_id)
    newer = Q(status_updated_at__isnull=True) | Q(status_updated_at__lte=report.timestamp)
    if not connector.filter(newer).update(**fields) and not connector.exists():
        try:
            Connector.objects.create(
                charger_id=charger_id, connector_id=report.connector_id, **fields
            )
        except IntegrityError:  # created meanwhile by another connection of the charger
            connector.filter(newer).update(**fields)


def _update_charging_clock(charger_id: int, report: StatusReport) -> None:
    """Charging starts the session's clock; any other status stops it and adds the time."""
    session = ChargeSession.objects.filter(
        charger_id=charger_id,
        connector__connector_id=report.connector_id,
        status=SessionStatus.ACTIVE,
        started_at__lte=report.timestamp,
    )
    if report.status == ConnectorStatus.CHARGING:
        session.filter(charging_since__isnull=True).update(charging_since=report.timestamp)
    else:
        session.filter(charging_since__isnull=False).update(
            charging_seconds=F("charging_seconds") + _seconds_since_charging(report.timestamp),
            charging_since=None,
        )


def _seconds_since_charging(until: datetime) -> Greatest:
    elapsed = ExpressionWrapper(Value(until) - F("charging_since"), output_field=DurationField())
    return Greatest(Value(0), Cast(Extract(elapsed, "epoch"), IntegerField()))


def authorize_id_tags(asked: list[checks.Asked]) -> list[checks.Check | BaseException]:
    """THE authorization decision (``auth_access.decisions``) on fresh data for each Authorize
    of a batch, recorded; or, where an external authorizer decides, the request to make
    (``checks.conclude()``). A failure stays with its own request: a charger deleted before
    the facts are read fails its request; when the batch fails as a whole (a charger deleted
    before its record is written, a value the database refuses) each request is decided again
    alone, and only those that fail alone fail."""
    close_old_connections()
    try:
        found = checks.begin_many(asked)
    except Exception:
        if len(asked) == 1:
            raise
        logger.warning("A batch of %d Authorize failed; deciding each alone", len(asked))
        return [_authorize_alone(one) for one in asked]
    return [
        _no_charger(one) if check is None else check
        for one, check in zip(asked, found, strict=True)
    ]


def _authorize_alone(asked: checks.Asked) -> checks.Check | BaseException:
    try:
        (check,) = checks.begin_many([asked])
    except Exception as error:
        return error
    return _no_charger(asked) if check is None else check


def _no_charger(asked: checks.Asked) -> BaseException:
    return Charger.DoesNotExist(f"No charger {asked.charger_id}")


def boot_access_hooks(charger_id: int) -> None:
    """After a BootNotification: queue the charger's access set-up (authorization cache and
    Local Authorization List, ``auth_access.tasks``); a Celery task, so no command waits here."""
    from auth_access.tasks import request_local_list_sync

    request_local_list_sync([charger_id], configure=True)


def start_transaction(
    charger_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: datetime,
    reservation_id: int | None,
) -> StartOutcome:
    """Create the session (accepted or not, the charger holds a transaction now); a retried
    StartTransaction finds the session it created and creates nothing."""
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
            ChargeSession.objects.filter(
                charger_id=charger_id,
                connector=connector,
                status=SessionStatus.ACTIVE,
                started_at__lte=started_at,
            ).update(
                status=SessionStatus.COMPLETED,
                stopped_at=started_at,
                stop_reason=StopReason.OTHER,
                stop_inferred=True,
                charging_seconds=F("charging_seconds")
                + Coalesce(_seconds_since_charging(started_at), Value(0)),
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
) -> StopOutcome:
    """Complete the session (once: a retried StopTransaction changes nothing). A session
    closed by inference (``close_inferred``, or a later StartTransaction on its connector) takes
    the charger's values instead, and loses its ``stop_inferred`` flag."""
    close_old_connections()
    decision = None
    if id_tag:
        decision = checks.begin(charger_id, id_tag, AuthorizationTrigger.STOP).decision
    session = ChargeSession.objects.filter(charger_id=charger_id, pk=transaction_id)
    found = session.values_list("connector__connector_id", "status", "stop_inferred").first()
    if found is None:
        return StopOutcome(found=False, connector_id=None, decision=decision)
    connector_id, status, inferred = found
    stop = {
        "stopped_at": stopped_at,
        "meter_stop_wh": meter_stop_wh,
        "energy_wh": Greatest(Value(0), Value(meter_stop_wh) - F("meter_start_wh")),
        "stop_reason": reason or StopReason.LOCAL,
        "stop_id_tag": id_tag or "",
        "stop_inferred": False,
    }
    if status == SessionStatus.ACTIVE and session.filter(status=SessionStatus.ACTIVE).update(
        status=SessionStatus.COMPLETED,
        charging_seconds=F("charging_seconds")
        + Coalesce(_seconds_since_charging(stopped_at), Value(0)),
        charging_since=None,
        **stop,
    ):
        return StopOutcome(found=True, connector_id=connector_id, decision=decision)
    # (Closed meanwhile by the offline sweep: then it is inferred, below.)
    if not inferred and status != SessionStatus.ACTIVE:
        # Stopped by the charger already: this is its StopTransaction again (a retry, or its
        # offline queue replayed after a reconnect). The first one stays.
        return StopOutcome(found=True, connector_id=connector_id, decision=decision, repeated=True)
    # Closed by inference: the charger's own values replace Fusebox's evidence. Conditional on
    # the flag, so a repeat of this late StopTransaction changes nothing more.
    if session.filter(stop_inferred=True).exclude(status=SessionStatus.ACTIVE).update(**stop):
        charger_changed(charger_id, "late StopTransaction")
        return StopOutcome(found=True, connector_id=connector_id, decision=decision)
    return StopOutcome(found=True, connector_id=connector_id, decision=decision, repeated=True)


def close_inferred(
    charger_id: int,
    reason: StopReason,
    evidence_at: datetime,
    connector_id: int | None = None,
    last_seen_at: datetime | None = None,
    registers: dict[int, tuple[datetime, float]] | None = None,
) -> list[int]:
    """Close the charger's active sessions (on ``connector_id`` only, if given) that the charger
    ended without a StopTransaction: a reboot, the connector Available again, a long absence.
    End time and meter stop are the session's last ``Energy.Active.Import.Register`` before
    ``evidence_at``; without one, ``last_seen_at`` if given (never before the start), else
    ``evidence_at``, and the live energy. ``registers``: connector -> (time, Wh) of the latest
    register the bridge holds in memory (its rows may still wait in the meter buffer); the later
    of it and the stored one counts. ``stop_inferred`` says so.
    Conditional updates (still active): running it twice, or beside a StopTransaction, closes a
    session once. The closed sessions' ids."""
    close_old_connections()
    sessions = ChargeSession.objects.filter(
        charger_id=charger_id, status=SessionStatus.ACTIVE, started_at__lte=evidence_at
    )
    if connector_id is not None:
        sessions = sessions.filter(connector__connector_id=connector_id)
    closed = []
    for pk, connector, started_at, meter_start, energy in sessions.values_list(
        "pk", "connector__connector_id", "started_at", "meter_start_wh", "energy_wh"
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
            + Coalesce(_seconds_since_charging(stopped_at), Value(0)),
            charging_since=None,
        ):
            closed.append(pk)
    if closed:
        ChargerEvent.objects.create(
            charger_id=charger_id,
            kind=EventKind.STATUS,
            timestamp=evidence_at,
            summary=_summary(
                f"Session {', '.join(map(str, closed))} closed without StopTransaction ({reason})"
            ),
        )
        charger_changed(charger_id, f"sessions closed ({reason})")
    return closed


# --- meter values ----------------------------------------------------------------------------


def write_meter_values(rows: Sequence[MeterRow], registers: dict[tuple[int, int], float]) -> None:
    """Append a batch of meter rows with one COPY, then move the live energy of the sessions
    they belong to with one UPDATE (apart, so session rows are never locked for the COPY's
    duration). ``registers``: (charger id, transaction id) -> meter reading in Wh."""
    close_old_connections()
    try:
        _copy_rows(rows)
    except IntegrityError:
        # A charger deleted while its values waited in the buffer: keep the others.
        known = set(
            Charger.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", flat=True)
        )
        logger.warning("Dropping meter values of deleted chargers %s", {r[0] for r in rows} - known)
        _copy_rows([row for row in rows if row[0] in known])
    _update_session_energy(registers)


def _copy_rows(rows: Iterable[MeterRow]) -> None:
    quote = connection.ops.quote_name
    table = quote(MeterValue._meta.db_table)
    columns = ", ".join(quote(MeterValue._meta.get_field(name).column) for name in METER_FIELDS)
    # The psycopg 3 cursor under Django's wrapper: COPY is the cheapest way in.
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _update_session_energy(registers: dict[tuple[int, int], float]) -> None:
    if not registers:
        return
    table = connection.ops.quote_name(ChargeSession._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::bigint, %s::double precision)"] * len(registers))
    params = [item for (charger_id, tx), wh in registers.items() for item in (tx, charger_id, wh)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET energy_wh = GREATEST(0, round(v.wh)::bigint - s.meter_start_wh)"
            f" FROM (VALUES {values}) AS v(id, charger_id, wh)"
            " WHERE s.id = v.id AND s.charger_id = v.charger_id AND s.status = %s",
            [*params, SessionStatus.ACTIVE.value],
        )


# --- commands --------------------------------------------------------------------------------


def claim_command(command_id: int) -> CommandToSend | None:
    """Mark a pending command sent (conditional update: only one node sends it) and load it."""
    close_old_connections()
    claimed = Command.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.SENT, sent_at=timezone.now()
    )
    if not claimed:
        return None
    action, payload, timeout_s, identity = (
        Command.objects.filter(pk=command_id)
        .values_list("action", "payload", "timeout_s", "charger__ocpp_identity")
        .get()
    )
    return CommandToSend(command_id, identity, action, payload or {}, timeout_s)


def finish_command(
    command_id: int, status: CommandStatus, response: Any = None, error: str = ""
) -> None:
    """Record the outcome, unless the command already ended (e.g. expired by the sweep)."""
    close_old_connections()
    finished = Command.objects.filter(
        pk=command_id, status__in=[CommandStatus.PENDING, CommandStatus.SENT]
    ).update(status=status, response=response, error=error[:300], completed_at=timezone.now())
    if finished:  # a ReserveNow's answer makes its reservation active or rejected
        reservations.record_answer(command_id)
