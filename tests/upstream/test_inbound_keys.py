"""Which ChangeConfiguration keys upstream may change (pure)."""

from __future__ import annotations

import pytest

from ocpp_bridge.upstream.inbound import forbidden_key


@pytest.mark.parametrize(
    "key",
    [
        "CentralSystemUrl", "centralsystemurl", "OcppEndpoint", "Wallbox.BackendURL",
        "ABB.OCPPServerHost", "CsmsUri", "backend.uri", "PrimaryURI", "AuthorizationKey", "SecurityProfile",
        "CpoName.CertificateSignedMaxChainSize", "LocalAuthListEnabled", "LocalPreAuthorize",
        "AllowOfflineTxForUnknownId", "SendLocalListMaxLength", "ChargeProfileMaxStackLevel",
        "HeartbeatInterval", "WebSocketPingInterval", "MeterValueSampleInterval",
        "MeterValuesSampledData", " authorizationcacheenabled ",
    ],
)  # fmt: skip
def test_keys_that_take_the_charger_away_or_break_safety_are_forbidden(key: str) -> None:
    assert forbidden_key(key)


@pytest.mark.parametrize(
    "key",
    ["ConnectionTimeOut", "StopTransactionOnEVSideDisconnect", "LightIntensity", "ResetRetries",
     "UnlockConnectorOnEVSideDisconnect", "AuthorizeRemoteTxRequests", "LockCableDuringCharging"],
)  # fmt: skip
def test_ordinary_keys_may_be_changed(key: str) -> None:
    assert not forbidden_key(key)
