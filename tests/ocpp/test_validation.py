"""The compiled schema check the bridge runs on every frame agrees with jsonschema: it never
accepts what the OCPP 1.6 schema rejects, and it accepts the messages chargers really send."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from ocpp.messages import MessageType, get_validator

from ocpp_bridge.framing import _fast_check, snake_case
from tests.ocpp.test_transactions import THREE_PHASES

NOW = "2026-01-01T00:00:00Z"
VALID: dict[str, dict[str, Any]] = {
    "BootNotification": {
        "chargePointVendor": "Acme",
        "chargePointModel": "W22",
        "chargePointSerialNumber": "S1",
        "firmwareVersion": "1.0",
    },
    "Heartbeat": {},
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Charging",
        "timestamp": NOW,
        "info": "ok",
    },
    "Authorize": {"idTag": "DORA-1"},
    "StartTransaction": {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "timestamp": NOW},
    "StopTransaction": {
        "transactionId": 1,
        "meterStop": 10,
        "timestamp": NOW,
        "reason": "Local",
        "transactionData": [{"timestamp": NOW, "sampledValue": THREE_PHASES}],
    },
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 3,
        "meterValue": [{"timestamp": NOW, "sampledValue": THREE_PHASES}],
    },
    "DataTransfer": {"vendorId": "com.acme", "messageId": "x", "data": "y"},
    "DiagnosticsStatusNotification": {"status": "Uploaded"},
    "FirmwareStatusNotification": {"status": "Installed"},
}


def _mutations(value: Any) -> Iterator[Any]:
    """Every way to break ``value`` one change at a time (and some that keep it valid)."""
    yield None
    yield 7
    yield True
    yield "x" * 300
    yield []
    yield {}
    if isinstance(value, dict):
        yield {**value, "unexpected": 1}
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
            for broken in _mutations(value[key]):
                yield {**value, key: broken}
    if isinstance(value, list) and value:
        yield value + value
        for broken in _mutations(value[0]):
            yield [broken, *value[1:]]


def _schema_accepts(action: str, payload: Any) -> bool:
    validator = get_validator(MessageType.Call, action, "1.6")
    return next(iter(validator.iter_errors(payload)), None) is None


def test_the_fast_check_accepts_what_chargers_send() -> None:
    for action, payload in VALID.items():
        schema = get_validator(MessageType.Call, action, "1.6").schema
        assert _fast_check(schema)(payload), action
        assert _schema_accepts(action, payload), action


def test_the_fast_check_never_accepts_what_the_schema_rejects() -> None:
    checked = 0
    for action, payload in VALID.items():
        fast = _fast_check(get_validator(MessageType.Call, action, "1.6").schema)
        for mutated in _mutations(copy.deepcopy(payload)):
            if fast(mutated):
                assert _schema_accepts(action, mutated), (action, mutated)
            checked += 1
    assert checked > 300


def test_keys_become_snake_case_like_the_library_does() -> None:
    from ocpp.charge_point import camel_to_snake_case

    payload = VALID["StopTransaction"]
    assert snake_case(payload) == camel_to_snake_case(payload)
