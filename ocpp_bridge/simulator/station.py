"""One charge point's physical and protocol state, without the network. Pure (no I/O, no clock).

Connectors with their plugged car and running transaction, the energy meter, the limit in force
(charging profiles, or the failsafe current while offline), the local authorization list and
cache, and what a meter reading looks like. ``SimulatedCharger`` drives it over time and talks
OCPP; everything here is plain state transitions, so it is tested without a websocket.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ocpp_bridge.simulator.car import IEC_MIN_CURRENT_A, NOMINAL_VOLTAGE_V, Car
from ocpp_bridge.simulator.configuration import Configuration
from ocpp_bridge.simulator.profiles import Limit, ProfileStore

RAMP_STEP_S = 1.0  # physics step while a car's current is still moving towards its target
STEADY_STEP_S = 30.0  # and while it is not


class Status(StrEnum):
    """OCPP 1.6 ChargePointStatus of a connector."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    UNAVAILABLE = "Unavailable"
    RESERVED = "Reserved"


@dataclass(frozen=True)
class ChargerSpec:
    """What a simulated charger is: identity, credentials and hardware."""

    identity: str
    password: str
    phases: int = 3
    phase_rotation: str = "L1L2L3"
    connectors: int = 1
    min_current_a: float = 6.0
    max_current_a: float = 32.0
    failsafe_current_a: float = 6.0
    vendor: str = "Fusebox"
    model: str = "SimCharger"
    firmware_version: str = "1.0.0"
    serial_number: str = ""

    def installation_phases(self) -> list[str]:
        """Installation phase of each charger phase, e.g. ['L2', 'L3', 'L1'] for L2L3L1."""
        rotation = self.phase_rotation if len(self.phase_rotation) == 6 else "L1L2L3"
        return [rotation[i : i + 2] for i in range(0, 6, 2)][: self.phases]


@dataclass
class Transaction:
    """A transaction on a connector; its id is known once StartTransaction was answered."""

    id_tag: str
    meter_start_wh: int
    started_at: datetime
    transaction_id: int | None = None
    start_values: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Connector:
    connector_id: int
    register_wh: float
    car: Car | None = None
    transaction: Transaction | None = None
    operative: bool = True
    inoperative_when_free: bool = False  # ChangeAvailability answered Scheduled
    finishing: bool = False  # transaction over, car still plugged
    offered_a: float = 0.0
    phases_allowed: int | None = None  # from the schedule period's numberPhases
    # Times (monotonic seconds) of what happens next: a car arrives, its driver presents a card,
    # comes back to end the visit, unplugs.
    arrive_at: float | None = None
    swipe_at: float | None = None
    leave_at: float | None = None
    unplug_at: float | None = None
    next_sample_at: float | None = None
    remote_id_tag: str | None = None  # RemoteStartTransaction waiting for this car
    authorizing: bool = False
    reservation: Hold | None = None  # ReserveNow in force


@dataclass(frozen=True)
class Hold:
    """A reservation the charger took (ReserveNow): only ``id_tag`` starts here until ``until``."""

    reservation_id: int
    id_tag: str
    until: datetime


class Station:
    """A charge point's connectors, limits, meter and authorization data."""

    def __init__(
        self,
        spec: ChargerSpec,
        config: Configuration,
        rng: random.Random,
        *,
        voltage_v: float = NOMINAL_VOLTAGE_V,
        phase_labels: str = "charger",
    ) -> None:
        self.spec = spec
        self.config = config
        self.rng = rng
        self.voltage_v = voltage_v
        self.voltage_offsets = [round(rng.uniform(-4, 4), 1) for _ in range(3)]
        self.phase_labels = phase_labels
        self.profiles = ProfileStore(spec.phases, voltage_v)
        self.connectors = {
            n: Connector(n, register_wh=float(rng.randrange(100_000, 5_000_000)))
            for n in range(1, spec.connectors + 1)
        }
        self.local_list: dict[str, dict[str, Any]] = {}
        self.local_list_version = 0
        self.auth_cache: dict[str, dict[str, Any]] = {}
        self.online = False
        self.firmware_version = spec.firmware_version

    # --- limits and physics -------------------------------------------------------------------

    def charging_connectors(self) -> list[Connector]:
        return [c for c in self.connectors.values() if c.car and c.transaction]

    def update_limits(self, at: datetime) -> None:
        """Set every connector's offered current from the profiles (or the failsafe when offline)."""
        charging = self.charging_connectors()
        shared = self.profiles.charge_point_limit(at)
        share_a = shared.current_a / max(1, len(charging)) if shared else float("inf")
        for connector in self.connectors.values():
            limit_a = self.spec.max_current_a
            connector.phases_allowed = None
            tx = connector.transaction
            if not self.online:
                # The balancer cannot reach us: its dynamic limits give way to the failsafe; a
                # running transaction's own schedule (its TxProfile) is still followed below it.
                limit_a = min(limit_a, float(self.config.get("FailsafeCurrent")))
                own = (
                    self.profiles.tx_profile_limit(
                        connector.connector_id, at, tx.started_at, tx.transaction_id
                    )
                    if tx
                    else None
                )
                if own is not None:
                    limit_a = min(limit_a, own.current_a)
                    connector.phases_allowed = own.phases
            else:
                limit = self.profiles.transaction_limit(
                    connector.connector_id,
                    at,
                    tx.started_at if tx else None,
                    tx.transaction_id if tx else None,
                )
                if limit is not None:
                    limit_a = min(limit_a, limit.current_a)
                    connector.phases_allowed = limit.phases
            limit_a = min(limit_a, share_a)
            if not connector.operative or limit_a < max(IEC_MIN_CURRENT_A, self.spec.min_current_a):
                limit_a = 0.0  # the pilot signal cannot say less than 6 A: pause instead
            connector.offered_a = round(limit_a, 1)

    def composite_limit(self, connector_id: int, at: datetime) -> Limit:
        """What the profiles allow at ``at`` (GetCompositeSchedule); the hardware maximum without any."""
        limit_a, phases = self.spec.max_current_a, None
        if connector_id:
            tx = self.connectors[connector_id].transaction
            found = self.profiles.transaction_limit(
                connector_id,
                at,
                tx.started_at if tx else None,
                tx.transaction_id if tx else None,
            )
            if found:
                limit_a, phases = min(limit_a, found.current_a), found.phases
        shared = self.profiles.charge_point_limit(at)
        if shared:
            limit_a, phases = min(limit_a, shared.current_a), phases or shared.phases
        return Limit(limit_a, phases)

    def phases_for(self, connector: Connector) -> int:
        return min(self.spec.phases, connector.phases_allowed or self.spec.phases)

    def ramping(self) -> bool:
        return any(
            abs(c.car.current_a - c.car.target_current_a(c.offered_a)) > 0.01
            for c in self.charging_connectors()
            if c.car
        )

    def advance(self, at: datetime, sim_seconds: float, speed: float) -> None:
        """Let ``sim_seconds`` of physics pass, ending at wall time ``at``; limits are re-read
        at each step (profiles are in wall time, which runs ``speed`` times slower)."""
        elapsed = 0.0
        while elapsed < sim_seconds:
            step = min(sim_seconds - elapsed, RAMP_STEP_S if self.ramping() else STEADY_STEP_S)
            wall = at - timedelta(seconds=(sim_seconds - elapsed) / speed)
            self.update_limits(wall)
            for connector in self.charging_connectors():
                assert connector.car is not None
                draw = connector.car.step(
                    connector.offered_a, self.phases_for(connector), step, self.voltage_v
                )
                connector.register_wh += draw.energy_wh
            elapsed += step
        self.update_limits(at)

    # --- status ---------------------------------------------------------------------------------

    def status_of(self, connector: Connector) -> Status:
        if connector.transaction is not None and connector.car is not None:
            car = connector.car
            if car.target_current_a(connector.offered_a) > 0:
                return Status.CHARGING
            if connector.offered_a < car.model.min_current_a and not car.finished:
                return Status.SUSPENDED_EVSE
            return Status.SUSPENDED_EV
        if not connector.operative:
            return Status.UNAVAILABLE
        if connector.car is None:
            return Status.AVAILABLE if connector.reservation is None else Status.RESERVED
        return Status.FINISHING if connector.finishing else Status.PREPARING

    # --- meter readings -------------------------------------------------------------------------

    def phase_currents(self, connector: Connector) -> list[float]:
        """Current on each of the charger's phases (charger phase order)."""
        currents = [0.0] * self.spec.phases
        car = connector.car
        if car is not None and connector.transaction is not None:
            for i in range(car.phases_on(self.phases_for(connector))):
                currents[i] = round(car.current_a, 2)
        return currents

    def labels(self) -> list[str]:
        if self.phase_labels == "installation":
            return self.spec.installation_phases()
        return ["L1", "L2", "L3"][: self.spec.phases]

    def sampled_values(
        self, connector: Connector, measurands: list[str], context: str
    ) -> list[dict[str, Any]]:
        """One meter reading of ``connector`` as OCPP sampledValue entries."""
        values: list[dict[str, Any]] = []

        def add(measurand: str, value: float, unit: str, **extra: str) -> None:
            entry = {"value": f"{value:g}" if unit != "Wh" else str(int(value))}
            entry.update(context=context, measurand=measurand, unit=unit, **extra)
            values.append(entry)

        currents = self.phase_currents(connector)
        labels = self.labels()
        voltages = [
            round(self.voltage_v + self.voltage_offsets[i] + self.rng.uniform(-0.5, 0.5), 1)
            for i in range(self.spec.phases)
        ]
        for measurand in measurands:
            if measurand == "Energy.Active.Import.Register":
                add(measurand, connector.register_wh, "Wh", location="Outlet")
            elif measurand == "Power.Active.Import":
                power = sum(i * v for i, v in zip(currents, voltages, strict=True))
                add(measurand, round(power), "W", location="Outlet")
            elif measurand == "Current.Import":
                for label, current in zip(labels, currents, strict=True):
                    add(measurand, current, "A", phase=label, location="Outlet")
            elif measurand == "Voltage":
                for label, voltage in zip(labels, voltages, strict=True):
                    add(measurand, voltage, "V", phase=f"{label}-N", location="Outlet")
            elif measurand == "Current.Offered":
                add(measurand, connector.offered_a, "A")
            elif measurand == "SoC" and connector.car is not None:
                add(measurand, round(connector.car.soc * 100, 1), "Percent", location="EV")
        return values

    # --- authorization --------------------------------------------------------------------------

    def known_locally(self, id_tag: str) -> bool:
        """Accepted by the local list (first) or the authorization cache, offline rules apply."""
        entry = (
            self.local_list.get(id_tag) if self.config.get_bool("LocalAuthListEnabled") else None
        )
        if entry is None and self.config.get_bool("AuthorizationCacheEnabled"):
            entry = self.auth_cache.get(id_tag)
        return bool(entry) and entry.get("status") == "Accepted"

    def remember(self, id_tag: str, id_tag_info: dict[str, Any]) -> None:
        if self.config.get_bool("AuthorizationCacheEnabled"):
            self.auth_cache[id_tag] = dict(id_tag_info)

    def update_local_list(
        self, version: int, update_type: str, entries: list[dict[str, Any]]
    ) -> str:
        """SendLocalList; returns the UpdateStatus."""
        if not self.config.get_bool("LocalAuthListEnabled"):
            return "NotSupported"
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        new = {} if update_type == "Full" else dict(self.local_list)
        for entry in entries:
            info = entry.get("id_tag_info")
            if info is None:
                new.pop(entry["id_tag"], None)
            else:
                new[entry["id_tag"]] = dict(info)
        if len(new) > self.config.get_int("LocalAuthListMaxLength"):
            return "Failed"
        self.local_list = new
        self.local_list_version = version
        return "Accepted"
