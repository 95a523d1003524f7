"""Every bad frame gets its CALLERROR (OCPP 1.6 codes), and the connection carries on."""

from __future__ import annotations

import json

import pytest

from chargers.models import ChargerEvent, ChargeSession
from ocpp_bridge import persistence
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger

FORMATION = "Payload for Action is syntactically incorrect or structure for Action"
PROTOCOL = "Payload for Action is incomplete"
PROPERTY = "Payload is syntactically correct but at least one field contains an invalid value"
TYPE = (
    "Payload for Action is syntactically correct but at least one of the fields violates data "
    "type constraints (e.g. “somestring”: 12)"
)
OCCURENCE = (
    "Payload for Action is syntactically correct but at least one of the fields violates "
    "occurence constraints"
)
NOT_KNOWN = "Requested Action is not known by receiver"
NOT_SUPPORTED = "Requested Action is recognized but not supported by the receiver"
INTERNAL = (
    "An internal error occurred and the receiver was not able to process the requested Action "
    "successfully"
)
BOOT = {"chargePointVendor": "Acme", "chargePointModel": "X"}
NOT_A_LIST = (
    "OCPP message hasn't the correct format. It should be a list, but got '<class 'dict'>' instead"
)
STATUSES = (
    "['Available', 'Preparing', 'Charging', 'SuspendedEVSE', 'SuspendedEV', 'Finishing', "
    "'Reserved', 'Unavailable', 'Faulted']"
)
NOT_JSON = {"cause": "Message is not valid JSON"}
START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}

CASES = [
    # Frames that are not OCPP-J messages at all.
    ("not-json", "hello", ["-1", "FormationViolation", FORMATION, NOT_JSON]),
    (
        "broken-json-with-id",
        '[2,"abc","Heartbeat",{',
        ["abc", "FormationViolation", FORMATION, NOT_JSON],
    ),
    ("not-a-list", '{"a": 1}', ["-1", "ProtocolError", PROTOCOL, {"cause": NOT_A_LIST}]),
    (
        "empty-list",
        "[]",
        ["-1", "ProtocolError", PROTOCOL, {"cause": "Message does not contain MessageTypeId"}],
    ),
    (
        "wrong-message-type",
        '[5,"x","Heartbeat",{}]',
        ["x", "PropertyConstraintViolation", PROPERTY, {"cause": "MessageTypeId '5' isn't valid"}],
    ),
    (
        "missing-elements",
        '[2,"x","Heartbeat"]',
        ["x", "ProtocolError", PROTOCOL, {"cause": "Message is missing elements."}],
    ),
    (
        "action-not-a-string",
        '[2,"x",7,{}]',
        ["x", "FormationViolation", FORMATION, {"cause": "Action must be a string"}],
    ),
    # Actions.
    (
        "unknown-action",
        [2, "x", "FooBar", {}],
        ["x", "NotImplemented", NOT_KNOWN, {"cause": "Unknown action FooBar"}],
    ),
    (
        "central-system-action",
        [2, "x", "Reset", {"type": "Hard"}],
        ["x", "NotSupported", NOT_SUPPORTED, {"cause": "Reset is not supported"}],
    ),
    # Payloads against the 1.6 schemas.
    (
        "required-missing",
        [2, "x", "BootNotification", {"chargePointVendor": "Acme"}],
        ["x", "ProtocolError", PROTOCOL, {"cause": "'chargePointModel' is a required property"}],
    ),
    (
        "wrong-type",
        [2, "x", "BootNotification", {**BOOT, "chargePointVendor": 12}],
        [
            "x",
            "TypeConstraintViolation",
            TYPE,
            {"cause": "chargePointVendor: 12 is not of type 'string'"},
        ],
    ),
    (
        "too-long",
        [2, "x", "Authorize", {"idTag": "X" * 21}],
        ["x", "TypeConstraintViolation", TYPE, {"cause": f"idTag: '{'X' * 21}' is too long"}],
    ),
    (
        "payload-not-an-object",
        [2, "x", "Heartbeat", []],
        ["x", "TypeConstraintViolation", TYPE, {"cause": "[] is not of type 'object'"}],
    ),
    (
        "unexpected-property",
        [2, "x", "Heartbeat", {"extra": 1}],
        [
            "x",
            "FormationViolation",
            FORMATION,
            {"cause": "Additional properties are not allowed ('extra' was unexpected)"},
        ],
    ),
    (
        "value-not-in-enum",
        [
            2,
            "x",
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
        ],
        [
            "x",
            "PropertyConstraintViolation",
            PROPERTY,
            {"cause": f"status: 'Sleeping' is not one of {STATUSES}"},
        ],
    ),
    (
        "empty-list-of-values",
        [2, "x", "MeterValues", {"connectorId": 1, "meterValue": []}],
        [
            "x",
            "OccurenceConstraintViolation",
            OCCURENCE,
            {"cause": "meterValue: [] should be non-empty"},
        ],
    ),
    # Values the schema cannot check.
    (
        "timestamp-not-a-date",
        [2, "x", "StartTransaction", {**START, "timestamp": "yesterday"}],
        [
            "x",
            "TypeConstraintViolation",
            TYPE,
            {"cause": "timestamp: 'yesterday' is not a date-time"},
        ],
    ),
    (
        "connector-zero-cannot-start",
        [2, "x", "StartTransaction", {**START, "connectorId": 0}],
        ["x", "PropertyConstraintViolation", PROPERTY, {"cause": "connectorId must be 1 to 16"}],
    ),
    # Integers no column holds (the schemas set no bound): refused, never a database error.
    (
        "meter-start-beyond-64-bits",
        [2, "m1", "StartTransaction", {**START, "meterStart": 10**20}],
        [
            "m1",
            "PropertyConstraintViolation",
            PROPERTY,
            {"cause": "meterStart: integer beyond 64 bits"},
        ],
    ),
    (
        "meter-stop-beyond-64-bits",
        [
            2,
            "m2",
            "StopTransaction",
            {"transactionId": 1, "meterStop": -(10**20), "timestamp": "2026-01-01T00:00:00Z"},
        ],
        [
            "m2",
            "PropertyConstraintViolation",
            PROPERTY,
            {"cause": "meterStop: integer beyond 64 bits"},
        ],
    ),
    (
        "transaction-id-beyond-64-bits-in-meter-values",
        [
            2,
            "m3",
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": 2**64,
                "meterValue": [
                    {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "5"}]}
                ],
            },
        ],
        [
            "m3",
            "PropertyConstraintViolation",
            PROPERTY,
            {"cause": "transactionId: integer beyond 64 bits"},
        ],
    ),
]


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:
    return chargers.connect(world.charger_a1)


@pytest.mark.parametrize(("frame", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_frame_gets_its_call_error_and_the_connection_lives_on(
    a1: TestCharger, frame: str | list[object], error: list[object]
) -> None:
    assert a1.send(frame) == [4, *error]
    assert a1.heartbeat_answers()
    assert ChargeSession.objects.count() == 0


def test_a_binary_frame_that_is_not_utf8_is_a_formation_violation(a1: TestCharger) -> None:
    reply = a1.send(b"\xff\xfe\x00garbage")
    assert reply == [4, "-1", "FormationViolation", FORMATION, NOT_JSON]
    assert a1.heartbeat_answers()


def test_a_binary_frame_with_a_valid_message_is_answered(a1: TestCharger) -> None:
    reply = a1.send(json.dumps([2, "b", "Heartbeat", {}]).encode())
    assert reply[:2] == [3, "b"]


def test_a_bug_in_a_handler_is_an_internal_error(
    a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(persistence, "authorize_id_tags", broken)
    assert a1.send([2, "x", "Authorize", {"idTag": "DORA-1"}]) == [
        4,
        "x",
        "InternalError",
        INTERNAL,
        {},
    ]
    assert a1.heartbeat_answers()
    monkeypatch.undo()  # the next Authorize (a new batch) is decided
    assert a1.send([2, "y", "Authorize", {"idTag": "DORA-1"}])[:2] == [3, "y"]


def test_a_bug_in_after_work_does_not_touch_the_answer_or_the_connection(
    world: World, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(persistence, "record_event", broken)
    reply = a1.send([2, "x", "FirmwareStatusNotification", {"status": "Downloading"}])
    assert reply == [3, "x", {}]
    a1.settle()
    assert a1.heartbeat_answers()
    assert not ChargerEvent.objects.filter(kind="firmware").exists()


def test_an_answer_to_no_pending_call_is_ignored(a1: TestCharger) -> None:
    a1.loop.run(a1.websocket.send('[3,"nobody-asked",{"status":"Accepted"}]'))
    a1.loop.run(a1.websocket.send('[4,"nobody-asked","GenericError","",{}]'))
    assert a1.heartbeat_answers()
    assert a1.replies.empty()


def test_one_misbehaving_charger_does_not_disturb_another(world: World, chargers: Chargers) -> None:
    noisy = chargers.connect(world.charger_a1)
    calm = chargers.connect(world.charger_b1)
    for frame, _ in [c[1:] for c in CASES]:
        noisy.send(frame)
        assert calm.heartbeat_answers()
    noisy.abort()
    assert calm.heartbeat_answers()
    assert (
        calm.result(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        == {}
    )
