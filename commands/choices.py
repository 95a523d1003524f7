"""Choices of the command path: what is asked of a charger, by which route, and how it ended."""

from django.db import models


class CommandAction(models.TextChoices):
    """OCPP 1.6 requests the central system sends to a charger."""

    REMOTE_START_TRANSACTION = "RemoteStartTransaction"
    REMOTE_STOP_TRANSACTION = "RemoteStopTransaction"
    RESET = "Reset"
    UNLOCK_CONNECTOR = "UnlockConnector"
    CHANGE_AVAILABILITY = "ChangeAvailability"
    CHANGE_CONFIGURATION = "ChangeConfiguration"
    GET_CONFIGURATION = "GetConfiguration"
    CLEAR_CACHE = "ClearCache"
    TRIGGER_MESSAGE = "TriggerMessage"
    SET_CHARGING_PROFILE = "SetChargingProfile"
    CLEAR_CHARGING_PROFILE = "ClearChargingProfile"
    GET_COMPOSITE_SCHEDULE = "GetCompositeSchedule"
    SEND_LOCAL_LIST = "SendLocalList"
    GET_LOCAL_LIST_VERSION = "GetLocalListVersion"
    GET_DIAGNOSTICS = "GetDiagnostics"
    UPDATE_FIRMWARE = "UpdateFirmware"
    DATA_TRANSFER = "DataTransfer"
    RESERVE_NOW = "ReserveNow"
    CANCEL_RESERVATION = "CancelReservation"


class CommandStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    # Not sent: a person's command that would undo balancing, failsafe or access (reserved.py).
    REFUSED = "refused", "Refused"


class CommandSource(models.TextChoices):
    UI = "ui", "Web UI"
    API = "api", "API"
    WORKER = "worker", "Worker"
    SYSTEM = "system", "System"
    UPSTREAM = "upstream", "Upstream central system"  # ocpp_bridge/upstream/inbound.py
