"""The charger's configuration keys (GetConfiguration / ChangeConfiguration), as a real one keeps them.

OCPP 1.6 standard keys of the Core, Local Auth List, Smart Charging and Remote Trigger profiles,
with their types and whether they are read-only, plus one vendor key, ``FailsafeCurrent`` (A):
the limit the charger falls back to while it has no connection to the central system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ocpp.v16.enums import Measurand


class ChangeStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


MEASURANDS = {m.value for m in Measurand}
PHASE_ROTATION_CODES = {  # installation phases of charger phases 1, 2, 3 -> OCPP's R/S/T letters
    "L1L2L3": "RST",
    "L2L3L1": "STR",
    "L3L1L2": "TRS",
    "L1L3L2": "RTS",
    "L2L1L3": "SRT",
    "L3L2L1": "TSR",
}
DEFAULT_SAMPLED = (
    "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Current.Offered,SoC"
)


def _is_bool(value: str) -> bool:
    return value.lower() in ("true", "false")


def _is_int(value: str) -> bool:
    return value.isdigit() and int(value) < 2**31


def _is_amperes(value: str) -> bool:
    try:
        return 0 <= float(value) <= 80
    except ValueError:
        return False


def _is_measurands(value: str) -> bool:
    return all(item.strip() in MEASURANDS for item in value.split(",") if item.strip())


def _is_any(value: str) -> bool:
    return True


@dataclass
class Key:
    value: str
    readonly: bool = False
    valid: Callable[[str], bool] = _is_any
    reboot_required: bool = False


class Configuration:
    """Key -> value store with the rules of ChangeConfiguration."""

    def __init__(
        self,
        *,
        connectors: int,
        phase_rotation: str,
        heartbeat_interval_s: int,
        meter_interval_s: int,
        failsafe_current_a: float,
        ws_ping_interval_s: int,
        sampled_data: str = DEFAULT_SAMPLED,
    ) -> None:
        rotation = PHASE_ROTATION_CODES.get(phase_rotation, "RST")
        phase_rotation_value = ",".join(f"{c}.{rotation}" for c in range(connectors + 1))
        self.keys: dict[str, Key] = {
            "AllowOfflineTxForUnknownId": Key("false", valid=_is_bool),
            "AuthorizationCacheEnabled": Key("true", valid=_is_bool),
            "AuthorizeRemoteTxRequests": Key("false", valid=_is_bool),
            "ClockAlignedDataInterval": Key("0", valid=_is_int),
            "ConnectionTimeOut": Key("60", valid=_is_int),
            "ConnectorPhaseRotation": Key(phase_rotation_value),
            "GetConfigurationMaxKeys": Key("64", readonly=True),
            "HeartbeatInterval": Key(str(heartbeat_interval_s), valid=_is_int),
            "LocalAuthorizeOffline": Key("true", valid=_is_bool),
            "LocalPreAuthorize": Key("false", valid=_is_bool),
            "MeterValuesAlignedData": Key("Energy.Active.Import.Register", valid=_is_measurands),
            "MeterValuesSampledData": Key(sampled_data, valid=_is_measurands),
            "MeterValueSampleInterval": Key(str(meter_interval_s), valid=_is_int),
            "NumberOfConnectors": Key(str(connectors), readonly=True),
            "ResetRetries": Key("3", valid=_is_int),
            "StopTransactionOnEVSideDisconnect": Key("true", valid=_is_bool),
            "StopTransactionOnInvalidId": Key("true", valid=_is_bool),
            "StopTxnAlignedData": Key("", valid=_is_measurands),
            "StopTxnSampledData": Key("Energy.Active.Import.Register", valid=_is_measurands),
            "SupportedFeatureProfiles": Key(
                "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
                readonly=True,
            ),
            "TransactionMessageAttempts": Key("3", valid=_is_int),
            "TransactionMessageRetryInterval": Key("10", valid=_is_int),
            "UnlockConnectorOnEVSideDisconnect": Key("true", valid=_is_bool),
            "WebSocketPingInterval": Key(
                str(ws_ping_interval_s), valid=_is_int, reboot_required=True
            ),
            "LocalAuthListEnabled": Key("true", valid=_is_bool),
            "LocalAuthListMaxLength": Key("1000", readonly=True),
            "SendLocalListMaxLength": Key("250", readonly=True),
            "ChargeProfileMaxStackLevel": Key("8", readonly=True),
            "ChargingScheduleAllowedChargingRateUnit": Key("Current,Power", readonly=True),
            "ChargingScheduleMaxPeriods": Key("24", readonly=True),
            "MaxChargingProfilesInstalled": Key("24", readonly=True),
            "ConnectorSwitch3to1PhaseSupported": Key("true", readonly=True),
            "FailsafeCurrent": Key(f"{failsafe_current_a:g}", valid=_is_amperes),
        }

    def get(self, key: str) -> str:
        return self.keys[key].value

    def get_int(self, key: str) -> int:
        return int(self.keys[key].value)

    def get_bool(self, key: str) -> bool:
        return self.keys[key].value.lower() == "true"

    def get_list(self, key: str) -> list[str]:
        return [item.strip() for item in self.keys[key].value.split(",") if item.strip()]

    def change(self, key: str, value: str) -> ChangeStatus:
        entry = self.keys.get(key)
        if entry is None:
            return ChangeStatus.NOT_SUPPORTED
        if entry.readonly or not entry.valid(value):
            return ChangeStatus.REJECTED
        entry.value = value
        return ChangeStatus.REBOOT_REQUIRED if entry.reboot_required else ChangeStatus.ACCEPTED

    def report(self, keys: list[str] | None) -> tuple[list[dict[str, object]], list[str]]:
        """GetConfiguration: the known keys asked for (all when none) and the unknown ones."""
        wanted = keys or list(self.keys)
        known = [
            {"key": k, "readonly": self.keys[k].readonly, "value": self.keys[k].value}
            for k in wanted
            if k in self.keys
        ]
        return known, [k for k in wanted if k not in self.keys]
