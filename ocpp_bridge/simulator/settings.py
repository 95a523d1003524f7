"""Settings shared by every simulated charger of a run, and small helpers (time, ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_CARDS = tuple(f"SIMCARD{n:04d}" for n in range(1, 21))


def utcnow() -> datetime:
    return datetime.now(UTC)


def ocpp_time(at: datetime) -> str:
    """OCPP dateTime: ISO-8601 UTC with milliseconds and a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class SimSettings:
    """How the simulated chargers behave. Durations of car visits are in simulated seconds;
    protocol timing (heartbeats, meter samples, reconnects) is in real seconds."""

    url: str = "ws://127.0.0.1:9000/ocpp"
    speed: float = 1.0  # simulated seconds per real second, for batteries and car visits
    seed: int = 0
    meter_interval_s: int = 60  # MeterValueSampleInterval until the central system changes it
    heartbeat_interval_s: int = 300  # until BootNotification.conf says otherwise
    ws_ping_interval_s: int = 60  # websocket pings (0: none, the OCPP heartbeat is enough)
    response_timeout_s: float = 30.0
    validate: bool = True  # check our calls and their answers against the OCPP JSON schemas
    cards: tuple[str, ...] = DEFAULT_CARDS  # the RFID idTags drivers present
    cars: bool = True  # simulate car visits at all
    initial_occupancy: float = 0.5  # share of connectors with a car plugged in at the start
    mean_idle_s: float = 1800.0  # a free connector waits this long for the next car, on average
    dwell_s: tuple[float, float] = (1800.0, 6 * 3600.0)  # how long a car stays, uniform
    phase_labels: str = (
        "charger"  # label phases by the charger's terminals (as real chargers do) or "installation"
    )
    voltage_v: float = 230.0
    tick_s: float = 5.0  # at most this long between physics updates
    reconnect_s: tuple[float, float] = (1.0, 30.0)  # reconnect backoff: first and largest delay
    boot_every_connection: bool = False  # BootNotification on every (re)connection, not only
    # after a (simulated) power-on or reset
    reboot_s: float = 3.0  # how long a Reset or firmware update keeps the charger away
    failsafe_current_a: float | None = None  # None: each charger's own
    extra: dict[str, str] = field(default_factory=dict)  # configuration keys to preset
