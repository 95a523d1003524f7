"""What chargers report: events, boots, connector statuses and the charging clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import DurationField, ExpressionWrapper, F, IntegerField, Q, Value
from django.db.models.functions import Cast, Extract, Greatest

from balancing.triggers import charger_changed
from chargers.choices import ConnectorStatus, EventKind, SessionStatus
from chargers.models import Charger, ChargerEvent, ChargeSession, Connector
from events.choices import EventType
from events.services import Draft, emit_many
from ocpp_bridge.persistence.records import (
    MAX_CONNECTOR_ID,
    ReportedState,
    clipped,
)

logger = logging.getLogger(__name__)

# Raw events that are also domain events (docs/events.md), with their status.
_STATUS_EVENTS = {
    EventKind.FIRMWARE: EventType.FIRMWARE_STATUS,
    EventKind.DIAGNOSTICS: EventType.DIAGNOSTICS_STATUS,
}


def record_event(
    charger_id: int,
    kind: EventKind,
    timestamp: datetime,
    summary: str,
    data: dict[str, Any],
    connector_id: int = 0,
) -> None:
    close_old_connections()
    with transaction.atomic():
        ChargerEvent.objects.create(
            charger_id=charger_id,
            connector_id=connector_id,
            kind=kind,
            timestamp=timestamp,
            summary=clipped(summary),
            data=data,
        )
        if kind in _STATUS_EVENTS:
            status = {"status": str(data.get("status", ""))[:50]}
            emit_many(
                [Draft(_STATUS_EVENTS[kind], charger_id, occurred_at=timestamp, payload=status)]
            )


def record_boot(charger_id: int, boot_info: dict[str, Any], now: datetime) -> None:
    """Store what the charger says it is (vendor, model, serials, firmware) and when it booted."""
    close_old_connections()
    vendor = boot_info.get("chargePointVendor", "")
    model = boot_info.get("chargePointModel", "")
    serial = boot_info.get("chargePointSerialNumber") or boot_info.get("chargeBoxSerialNumber")
    firmware = boot_info.get("firmwareVersion", "")
    with transaction.atomic():  # the charger's row, its raw event and the domain event together
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
            summary=clipped(summary),
            data=boot_info,
        )
        booted = {"vendor": vendor[:50], "model": model[:50], "firmware_version": firmware[:50]}
        emit_many([Draft(EventType.CHARGER_BOOTED, charger_id, occurred_at=now, payload=booted)])
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
    previous: ReportedState | None = None  # what the connector reported before, if known

    def state(self) -> ReportedState:
        error_code = "" if self.error_code == "NoError" else self.error_code
        return ReportedState(self.status, error_code, self.info[:50], self.vendor_error_code[:50])


def record_status(charger_id: int, report: StatusReport, changed: bool, in_session: bool) -> None:
    """Connector status (if newer than what we have), charging time of the session in progress
    (``in_session``: the connection knows one), status and fault events. A few conditional
    statements, no locks: a charger's messages are stored one after the other. A new fault or
    a recovery is a domain event too (``connector.faulted`` / ``connector.recovered``), written
    in one transaction with the rest."""
    close_old_connections()
    drafts = _fault_drafts(charger_id, report)
    if not drafts:
        _record_status(charger_id, report, changed, in_session)
        return
    with transaction.atomic():
        _record_status(charger_id, report, changed, in_session)
        emit_many(drafts)


def _is_fault(state: ReportedState) -> bool:
    return state.status == ConnectorStatus.FAULTED or bool(state.error_code)


def _fault_drafts(charger_id: int, report: StatusReport) -> list[Draft]:
    """A fault that is new (none before, or another errorCode) or one that cleared."""
    state, before = report.state(), report.previous
    was_fault = before is not None and _is_fault(before)
    at = {"connector_id": report.connector_id, "occurred_at": report.timestamp}
    if _is_fault(state):
        same = (state.error_code, state.vendor_error_code)
        if was_fault and before and (before.error_code, before.vendor_error_code) == same:
            return []  # the same fault again (another status or info text: not a new fault)
        fault = {
            "status": report.status,
            "error_code": report.error_code,
            "vendor_error_code": report.vendor_error_code[:50],
            "vendor_id": report.vendor_id[:255],
            "info": report.info[:50],
        }
        return [Draft(EventType.CONNECTOR_FAULTED, charger_id, payload=fault, **at)]
    if was_fault:
        return [
            Draft(
                EventType.CONNECTOR_RECOVERED, charger_id, payload={"status": report.status}, **at
            )
        ]
    return []


def _record_status(charger_id: int, report: StatusReport, changed: bool, in_session: bool) -> None:
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
                summary=clipped(summary),
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
            charging_seconds=F("charging_seconds") + seconds_since_charging(report.timestamp),
            charging_since=None,
        )


def seconds_since_charging(until: datetime) -> Greatest:
    elapsed = ExpressionWrapper(Value(until) - F("charging_since"), output_field=DurationField())
    return Greatest(Value(0), Cast(Extract(elapsed, "epoch"), IntegerField()))
