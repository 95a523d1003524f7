"""Choices of the chargers app."""

from django.db import models


class PhaseRotation(models.TextChoices):
    """Which installation phase each charger phase is wired to (charger phase 1 first)."""

    L1L2L3 = "L1L2L3", "L1 L2 L3"
    L2L3L1 = "L2L3L1", "L2 L3 L1"
    L3L1L2 = "L3L1L2", "L3 L1 L2"
    L1L3L2 = "L1L3L2", "L1 L3 L2"
    L2L1L3 = "L2L1L3", "L2 L1 L3"
    L3L2L1 = "L3L2L1", "L3 L2 L1"


class ChargerAuthorizationMode(models.TextChoices):
    INHERIT = "inherit", "As the installation"
    OPEN = "open", "Open"
    LOCKED = "locked", "Locked"


class ConnectorStatus(models.TextChoices):
    """OCPP 1.6 ChargePointStatus, plus Unknown before the first StatusNotification."""

    UNKNOWN = "Unknown", "Unknown"
    AVAILABLE = "Available", "Available"
    PREPARING = "Preparing", "Preparing"
    CHARGING = "Charging", "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE", "Suspended by charger"
    SUSPENDED_EV = "SuspendedEV", "Suspended by car"
    FINISHING = "Finishing", "Finishing"
    RESERVED = "Reserved", "Reserved"
    UNAVAILABLE = "Unavailable", "Unavailable"
    FAULTED = "Faulted", "Faulted"


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "Charging session in progress"
    COMPLETED = "completed", "Completed"


class StopReason(models.TextChoices):
    """OCPP 1.6 StopTransaction reason (Local when the charger did not say)."""

    EMERGENCY_STOP = "EmergencyStop", "Emergency stop"
    EV_DISCONNECTED = "EVDisconnected", "Car disconnected"
    HARD_RESET = "HardReset", "Hard reset"
    LOCAL = "Local", "Stopped at the charger"
    OTHER = "Other", "Other"
    POWER_LOSS = "PowerLoss", "Power loss"
    REBOOT = "Reboot", "Reboot"
    REMOTE = "Remote", "Stopped remotely"
    SOFT_RESET = "SoftReset", "Soft reset"
    UNLOCK_COMMAND = "UnlockCommand", "Unlock command"
    DE_AUTHORIZED = "DeAuthorized", "De-authorized"


class EventKind(models.TextChoices):
    CONNECTED = "connected", "Connected"
    DISCONNECTED = "disconnected", "Disconnected"
    BOOT = "boot", "Boot notification"
    STATUS = "status", "Status change"
    FAULT = "fault", "Fault"
    DATA_TRANSFER = "data_transfer", "Data transfer"
    DIAGNOSTICS = "diagnostics", "Diagnostics status"
    FIRMWARE = "firmware", "Firmware status"
