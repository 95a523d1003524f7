"""The simulator's cheap framing gives exactly the payloads the ``ocpp`` library would."""

from __future__ import annotations

import random
from typing import Any

import pytest
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict
from ocpp.charge_point import snake_to_camel_case as library_camel
from ocpp.v16 import call, call_result
from ocpp.v16.datatypes import IdTagInfo

from ocpp_bridge.simulator.configuration import Configuration
from ocpp_bridge.simulator.station import ChargerSpec, Station
from ocpp_bridge.simulator.wire import payload_of, snake_keys


def _sampled_values() -> list[dict[str, Any]]:
    spec = ChargerSpec("CP-1", "pw", phases=3, phase_rotation="L2L3L1", connectors=1)
    config = Configuration(
        connectors=1,
        phase_rotation="L2L3L1",
        heartbeat_interval_s=300,
        meter_interval_s=60,
        failsafe_current_a=8,
        ws_ping_interval_s=0,
    )
    station = Station(spec, config, random.Random(1))
    measurands = [*config.get_list("MeterValuesSampledData"), "SoC", "Current.Offered"]
    return station.sampled_values(station.connectors[1], measurands, "Sample.Periodic")


CALLS = [
    call.BootNotification(
        charge_point_model="Sim",
        charge_point_vendor="Fusebox",
        charge_point_serial_number="SN-1",
        firmware_version="1.0.0",
        meter_type="SimMeter",
    ),
    call.Heartbeat(),
    call.StatusNotification(
        connector_id=1, error_code="NoError", status="Charging", timestamp="2026-11-25T10:00:00Z"
    ),
    call.Authorize(id_tag="SIMCARD0001"),
    call.StartTransaction(
        connector_id=1, id_tag="SIMCARD0001", meter_start=1000, timestamp="2026-11-25T10:00:00Z"
    ),
    call.MeterValues(
        connector_id=1,
        transaction_id=7,
        meter_value=[{"timestamp": "2026-11-25T10:01:00.000Z", "sampled_value": _sampled_values()}],
    ),
    call.MeterValues(connector_id=0, meter_value=[{"timestamp": "2026-11-25T10:01:00Z"}]),
    call.StopTransaction(
        meter_stop=2000,
        timestamp="2026-11-25T11:00:00Z",
        transaction_id=7,
        reason="EVDisconnected",
        id_tag=None,
        transaction_data=[
            {"timestamp": "2026-11-25T10:00:00Z", "sampled_value": [{"value": "1000"}]},
        ],
    ),
    call.DiagnosticsStatusNotification(status="Uploaded"),
    call.FirmwareStatusNotification(status="Installed"),
    call.DataTransfer(vendor_id="Fusebox", message_id="soc", data=None),
]


@pytest.mark.parametrize("payload", CALLS, ids=lambda p: type(p).__name__)
def test_payloads_are_the_librarys(payload: Any) -> None:
    assert payload_of(payload) == remove_nones(library_camel(serialize_as_dict(payload)))


def test_answers_convert_like_the_library() -> None:
    answer = {"transactionId": 7, "idTagInfo": {"status": "Accepted", "expiryDate": "x"}}
    assert snake_keys(answer) == camel_to_snake_case(answer)
    result = call_result.StartTransaction(**snake_keys(answer))
    assert result.id_tag_info == {"status": "Accepted", "expiry_date": "x"}
    assert payload_of(call_result.StartTransaction(7, IdTagInfo(status="Accepted"))) == {
        "transactionId": 7,
        "idTagInfo": {"status": "Accepted"},
    }
