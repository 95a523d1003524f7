"""Choices of the upstream bridge: how it connects, who authorizes, what upstream may do."""

from django.db import models


class SecurityProfile(models.IntegerChoices):
    """OCPP 1.6 security profiles (OCPP 1.6 security whitepaper), as Fusebox presents the charger."""

    NONE = 0, "0: no authentication (ws:// or wss://)"
    BASIC = 1, "1: HTTP Basic authentication"
    TLS_BASIC = 2, "2: TLS with certificate verification and HTTP Basic authentication"


class UpstreamAuthorization(models.TextChoices):
    """Who decides whether a card may charge at a bridged charger."""

    FUSEBOX = "fusebox", "Fusebox decides (upstream is informed)"
    UPSTREAM = "upstream", "Upstream decides"
    BOTH = "both", "Both must accept"


class OfflineAuthorization(models.TextChoices):
    """What happens to a card while upstream is unreachable (in the modes where upstream decides)."""

    ACCEPT_KNOWN = "accept_known", "Fusebox decides for cards it knows; others are refused"
    REFUSE = "refuse", "Refuse every card until upstream is back"


class ChargerDown(models.TextChoices):
    """What upstream sees while the charger is not connected to Fusebox."""

    DISCONNECT = "disconnect", "Close the upstream connection"
    UNAVAILABLE = "unavailable", "Stay connected and report Unavailable"


class UpstreamCommand(models.TextChoices):
    """What upstream may ask of a bridged charger (each executed through Fusebox's command path).

    Firmware and diagnostics requests (UpdateFirmware, GetDiagnostics) are allowed separately
    (``UpstreamSettings.allow_firmware``)."""

    REMOTE_START = "RemoteStartTransaction"
    REMOTE_STOP = "RemoteStopTransaction"
    RESET = "Reset"
    UNLOCK_CONNECTOR = "UnlockConnector"
    CHANGE_AVAILABILITY = "ChangeAvailability"
    TRIGGER_MESSAGE = "TriggerMessage"
    GET_CONFIGURATION = "GetConfiguration"
    CHANGE_CONFIGURATION = "ChangeConfiguration"
    CLEAR_CACHE = "ClearCache"
    SET_CHARGING_PROFILE = "SetChargingProfile"
    CLEAR_CHARGING_PROFILE = "ClearChargingProfile"
    RESERVE_NOW = "ReserveNow"
    CANCEL_RESERVATION = "CancelReservation"
    DATA_TRANSFER = "DataTransfer"


# Allowed unless the owner says otherwise: everything but Reset (a third party rebooting a
# charger in use is rarely wanted).
DEFAULT_COMMANDS = [c.value for c in UpstreamCommand if c != UpstreamCommand.RESET]
FIRMWARE_COMMANDS = frozenset({"UpdateFirmware", "GetDiagnostics"})


class LinkState(models.TextChoices):
    """An upstream link as the bridge last saw it."""

    DISABLED = "disabled", "Disabled"
    PAUSED = "paused", "Paused"
    CONNECTING = "connecting", "Connecting"
    CONNECTED = "connected", "Connected"  # websocket open, boot accepted
    PENDING = "pending", "Boot pending"  # upstream answered Pending: only its calls are served
    REFUSED = "refused", "Refused"  # upgrade refused (401, 404), or boot Rejected: retried later
    UNREACHABLE = "unreachable", "Unreachable"  # no connection; retried with backoff
    CHARGER_OFFLINE = "charger_offline", "Charger offline"


class QueuedAction(models.TextChoices):
    """The transaction messages queued durably for upstream (OCPP 1.6 4.7: delivered in order)."""

    START_TRANSACTION = "StartTransaction"
    STOP_TRANSACTION = "StopTransaction"
    METER_VALUES = "MeterValues"
