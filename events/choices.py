"""Choices of the events app: the event types of the catalogue, severities, incident kinds."""

from django.db import models


class EventType(models.TextChoices):
    """Every type of the catalogue (``events/catalogue.py`` says what each carries)."""

    CHARGER_CONNECTED = "charger.connected", "Charger connected"
    CHARGER_DISCONNECTED = "charger.disconnected", "Charger disconnected"
    CHARGER_OFFLINE = "charger.offline", "Charger offline"
    CHARGER_ONLINE = "charger.online", "Charger back online"
    CHARGER_BOOTED = "charger.booted", "Charger booted"
    CONNECTOR_FAULTED = "connector.faulted", "Fault"
    CONNECTOR_RECOVERED = "connector.recovered", "Fault cleared"
    SESSION_STARTED = "session.started", "Session started"
    SESSION_STOPPED = "session.stopped", "Session stopped"
    SESSION_CORRECTED = "session.corrected", "Session corrected"
    AUTHORIZATION_REFUSED = "authorization.refused", "Authorization refused"
    COMMAND_REJECTED = "command.rejected", "Command rejected"
    COMMAND_FAILED = "command.failed", "Command failed"
    COMMAND_TIMED_OUT = "command.timed_out", "Command timed out"
    FIRMWARE_STATUS = "firmware.status", "Firmware update status"
    DIAGNOSTICS_STATUS = "diagnostics.status", "Diagnostics upload status"
    UPSTREAM_CONNECTED = "upstream.connected", "Upstream connected"
    UPSTREAM_DISCONNECTED = "upstream.disconnected", "Upstream disconnected"
    UPSTREAM_REFUSED = "upstream.refused", "Upstream refused"
    SETTINGS_CHANGED = "settings.changed", "Settings changed"
    PERMISSIONS_CHANGED = "permissions.changed", "Permissions changed"
    CAR_NOT_SERVED = "balancing.car_not_served", "Car not served"
    CAR_SERVED = "balancing.car_served", "Car served again"
    FUSE_OVERLOADED = "fuse.overloaded", "Fuse overloaded"
    FUSE_RECOVERED = "fuse.recovered", "Fuse back within its limit"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class IncidentKind(models.TextChoices):
    OFFLINE = "offline", "Offline"
    FAULT = "fault", "Fault"
    OVERLOAD = "overload", "Overload"
