"""What chargers report: events, boots, connector statuses and the charging clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, close_old_connections
from django.db.models import DurationField, ExpressionWrapper, F, IntegerField, Q, Value
from django.db.models.functions import Cast, Extract, Greatest

from balancing.triggers import charger_changed
from chargers.choices import ConnectorStatus, EventKind, SessionStatus
from chargers.models import Charger, ChargerEvent, ChargeSession, Connector
from ocpp_bridge.persistence.records import (
    MAX_CONNECTOR_ID,
    ReportedState,
    clipped,
)

logger = logging.getLogger(__name__)


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
        summary=clipped(summary),
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
        summary=clipped(summary),
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
