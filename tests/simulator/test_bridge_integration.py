"""A fleet of simulated chargers against the real bridge and the test database.

The chargers are registered as ``manage.py simulate --demo`` finds them (``specs_from_database``);
cars come and go fast (speed 60), so sessions start and end within seconds. Commands go the way
the web and worker processes send them (``routing.issue_command``), and a charging limit must
show in the meter values the bridge stores. At the end, everything the fleet had acknowledged
must be in the database: one session per StartTransaction answered, completed ones per
StopTransaction, and one MeterValue row per sampled value.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from chargers.choices import ConnectorStatus, SessionStatus
from chargers.models import Charger, ChargeSession, Connector, MeterValue
from chargers.services import register_charger
from commands import routing
from commands.choices import CommandStatus
from installations.choices import AuthorizationMode
from installations.services import create_installation
from ocpp_bridge.management.commands.simulate import specs_from_database
from ocpp_bridge.simulator.fleet import Fleet, synthetic_specs
from ocpp_bridge.simulator.settings import SimSettings

bridge_module = pytest.importorskip("ocpp_bridge.bridge")
if not hasattr(bridge_module, "serve_bridge"):  # pragma: no cover - until the bridge exists
    pytest.skip("the OCPP bridge is not there yet", allow_module_level=True)

from tests.ocpp.conftest import LoopThread, eventually, start_bridge, stop_bridge  # noqa: E402

PASSWORD = "fleet-password"
EIGHT_AMPERES = {
    "chargingProfileId": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
    },
}


def register(prefix: str, count: int, mode: AuthorizationMode, owner: User) -> None:
    site = create_installation(
        owner, name=f"{prefix} site", main_fuse_a=250, authorization_mode=mode
    )
    for n, spec in enumerate(synthetic_specs(prefix, 1, count, PASSWORD)):
        charger, _ = register_charger(
            circuit=site.main_fuse,
            name=f"{prefix}{n}",
            ocpp_identity=spec.identity,
            phases=spec.phases,
            phase_rotation=spec.phase_rotation,
            max_current_a=spec.max_current_a,
            connector_count=spec.connectors,
        )
        charger.set_ocpp_password(PASSWORD)
        charger.save(update_fields=["ocpp_password_hash"])


def command(charger: Charger, action: str, payload: dict[str, Any]) -> Any:
    issued = routing.issue_command(charger, action, payload, timeout_s=10)
    return routing.wait_for_command(issued, timeout_s=15)


@pytest.mark.django_db(transaction=True)
def test_a_simulated_fleet_charges_obeys_commands_and_everything_reaches_the_database() -> None:
    owner = User.objects.create_user(email="fleet@example.com", password="x", name="Fleet Owner")
    register("OPEN-", 10, AuthorizationMode.OPEN, owner)
    register("LOCKED-", 2, AuthorizationMode.LOCKED, owner)  # nobody's card is registered
    specs = specs_from_database(PASSWORD)
    assert len(specs) == 12
    target = Charger.objects.get(ocpp_identity="OPEN-00001")

    handle = start_bridge()
    loop = LoopThread("fleet")
    try:
        settings = SimSettings(
            url=f"ws://127.0.0.1:{handle.bridge.port}/ocpp",
            speed=60,
            meter_interval_s=1,
            ws_ping_interval_s=0,
            initial_occupancy=1.0,
            mean_idle_s=60,
            dwell_s=(90, 240),
            tick_s=0.2,
            reconnect_s=(0.2, 1.0),
            response_timeout_s=10,
        )
        fleet = Fleet(specs, settings)
        running = asyncio.run_coroutine_threadsafe(
            fleet.run(ramp_s=1, handle_signals=False), loop.loop
        )
        eventually(lambda: routing.node_of(target.ocpp_identity), timeout=10)

        config = command(target, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        assert config.status == CommandStatus.ACCEPTED
        assert config.response["configurationKey"][0]["key"] == "HeartbeatInterval"
        trigger = {"requestedMessage": "StatusNotification", "connectorId": 1}
        assert command(target, "TriggerMessage", trigger).status == CommandStatus.ACCEPTED
        limit = {"connectorId": 0, "csChargingProfiles": EIGHT_AMPERES}
        assert command(target, "SetChargingProfile", limit).status == CommandStatus.ACCEPTED
        limited_since = timezone.now()

        def offered_after_limit() -> list[float]:
            handle.flush()
            return list(
                MeterValue.objects.filter(
                    charger=target, measurand="Current.Offered", timestamp__gt=limited_since
                ).values_list("value", flat=True)
            )

        offered = eventually(lambda: len(offered_after_limit()) >= 2 and offered_after_limit(), 10)
        assert set(offered) <= {0.0, 8.0}  # 8 A while charging, 0 while no car is charging
        time.sleep(3)  # let the fleet go on: sessions end and new cars come
        loop.loop.call_soon_threadsafe(fleet.request_stop)
        final = running.result(timeout=60)
        handle.flush()
        ramped = MeterValue.objects.filter(  # a car takes up to two seconds to come down
            charger=target,
            measurand="Current.Import",
            timestamp__gt=limited_since + timedelta(seconds=2),
        )
        assert max(ramped.values_list("value", flat=True)) <= 8.0
    finally:
        loop.close()
        stop_bridge(handle)

    assert final["connect_failures"] == {} and final["max_connected"] == 12
    assert final["errors"] == {} and final["timeouts"] == {} and final["dropped"] == {}
    assert final["unsent"] == 0
    answered = final["answered"]
    assert answered["BootNotification"] == 12

    sessions = ChargeSession.objects.filter(charger__ocpp_identity__startswith="OPEN-")
    assert sessions.count() == answered["StartTransaction"] >= 10
    completed = sessions.filter(status=SessionStatus.COMPLETED)
    assert completed.count() == answered["StopTransaction"] >= 1
    assert all(s.meter_stop_wh >= s.meter_start_wh for s in completed)
    assert any(s.energy_wh > 0 for s in completed)
    assert not ChargeSession.objects.filter(charger__ocpp_identity__startswith="LOCKED-").exists()

    rows = MeterValue.objects.filter(charger__ocpp_identity__startswith="OPEN-")
    acknowledged = final["sampled_values_acked"] + final["transaction_values_acked"]
    assert rows.count() == acknowledged
    assert rows.filter(measurand="Current.Import", phase__in=["L1", "L2", "L3"]).exists()
    assert rows.filter(measurand="SoC", unit="Percent").exists()

    assert Charger.objects.exclude(boot_info__chargePointVendor="Fusebox").count() == 0
    assert not Connector.objects.filter(status=ConnectorStatus.UNKNOWN).exists()
