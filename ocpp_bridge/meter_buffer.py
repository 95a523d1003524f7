"""Meter values: parsed from OCPP MeterValues, buffered, and written in batches.

The bridge never spends a database round trip per sample: ``MeterBuffer.add`` appends rows in
memory, and a single writer flushes them every ``interval_s`` (or as soon as ``max_rows`` are
waiting) with one COPY plus one UPDATE for the live energy of the sessions concerned
(``persistence.write_meter_values``). ``parse_meter_values`` turns the payload into those rows and
into the readings the live-state hash shows.

Signed values (``format: SignedData``, e.g. OCMF) are not numbers: they travel in the same rows
list as ``SignedRow`` and the buffer writes them verbatim, after each batch, into
``SignedMeterValue`` (``persistence.write_signed_values``, on the bridge's batch lane like the
meter rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import InterfaceError, OperationalError

from chargers.models import MeterValue
from ocpp_bridge.persistence import MeterRow, SignedRow

logger = logging.getLogger(__name__)

# OCPP 1.6 SampledValue defaults.
DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_CONTEXT = "Sample.Periodic"
ENERGY_REGISTER = "Energy.Active.Import.Register"
PHASES = ("L1", "L2", "L3")
DEFAULT_VOLTAGE_V = 230.0

_MAX_LENGTHS = {
    name: MeterValue._meta.get_field(name).max_length
    for name in ("measurand", "phase", "unit", "context", "location")
}

# Beyond this many rows waiting (the database is down or far too slow) the oldest are dropped,
# so a stuck database cannot take the bridge's memory with it.
HARD_LIMIT_ROWS = 500_000

# A signed value longer than this is dropped (a truncated one could not be checked anyway).
MAX_SIGNED_CHARS = 20_000

Writer = Callable[[list[MeterRow], dict[tuple[int, int], float]], Awaitable[None]]


SignedWriter = Callable[[list[SignedRow]], Awaitable[None]]


def parse_timestamp(value: str) -> datetime:
    """An OCPP date-time (RFC 3339; a missing offset is read as UTC). ValueError if invalid."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Readings:
    """The latest values of one meterValue entry (one timestamp), in A, W, Wh and %."""

    timestamp: datetime
    current_a: dict[str, float] = field(default_factory=dict)  # "L1".."L3"
    power_w: float | None = None
    register_wh: float | None = None
    soc_percent: float | None = None


def _scaled(value: float, unit: str) -> float:
    return value * 1000 if unit in ("kW", "kWh") else value


def _clip(name: str, text: str) -> str:
    limit = _MAX_LENGTHS[name]
    return text if limit is None or len(text) <= limit else text[:limit]


def parse_meter_values(
    charger_id: int,
    connector_id: int,
    transaction_id: int | None,
    meter_value: list[dict[str, Any]],
    *,
    phases: int = 3,
    voltage_v: float = DEFAULT_VOLTAGE_V,
) -> tuple[list[MeterRow | SignedRow], list[Readings]]:
    """Rows for the volume table and readings per timestamp, from snake_case meterValue entries.

    A sample with ``format: SignedData`` becomes a ``SignedRow`` (kept verbatim; none longer than
    ``MAX_SIGNED_CHARS`` or holding a NUL); other samples that are not numbers are skipped; a
    timestamp that is not a date-time raises ValueError. Currents per phase come from
    ``Current.Import`` labelled L1-L3; where an entry has none, see ``_infer_currents``
    (``phases``: the phases the car is on, ``voltage_v``: the installation's phase voltage, used
    when the entry has no Voltage).
    """
    rows: list[MeterRow | SignedRow] = []
    readings: list[Readings] = []
    for entry in meter_value:
        timestamp = parse_timestamp(entry["timestamp"])
        reading = Readings(timestamp)
        phase_power = 0.0
        has_phase_power = False
        unlabelled: dict[str, float] = {}  # Current.Import / Current.Offered without a phase
        offered: dict[str, float] = {}  # Current.Offered per phase
        voltages: list[float] = []
        for sample in entry.get("sampled_value", []):
            if sample.get("format") == "SignedData":
                signed = _signed_row(charger_id, connector_id, transaction_id, timestamp, sample)
                if signed is not None:
                    rows.append(signed)
                continue
            try:
                value = float(sample["value"])
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            measurand = sample.get("measurand") or DEFAULT_MEASURAND
            phase = sample.get("phase") or ""
            unit = sample.get("unit") or ("Wh" if measurand.startswith("Energy.") else "")
            location = sample.get("location") or ""
            rows.append(
                (
                    charger_id,
                    connector_id,
                    transaction_id,
                    timestamp,
                    _clip("measurand", measurand),
                    _clip("phase", phase),
                    value,
                    _clip("unit", unit),
                    _clip("context", sample.get("context") or DEFAULT_CONTEXT),
                    _clip("location", location),
                )
            )
            if location not in ("", "Outlet"):
                continue
            if measurand == "Current.Import" and phase[:2] in PHASES:
                reading.current_a[phase[:2]] = value
            elif measurand in ("Current.Import", "Current.Offered") and not phase:
                unlabelled[measurand] = value
            elif measurand == "Current.Offered" and phase[:2] in PHASES:
                offered[phase[:2]] = value
            elif measurand == "Voltage" and value > 0 and (not phase or phase.endswith("-N")):
                voltages.append(value)
            elif measurand == "Power.Active.Import":
                if phase:
                    phase_power += _scaled(value, unit)
                    has_phase_power = True
                else:
                    reading.power_w = _scaled(value, unit)
            elif measurand == ENERGY_REGISTER and not phase:
                reading.register_wh = _scaled(value, unit)
            elif measurand == "SoC":
                reading.soc_percent = value
        if reading.power_w is None and has_phase_power:
            reading.power_w = phase_power
        if not reading.current_a:
            voltage = sum(voltages) / len(voltages) if voltages else voltage_v
            reading.current_a = _infer_currents(
                unlabelled, offered, reading.power_w, phases, voltage
            )
        readings.append(reading)
    return rows, readings


# Characters XML 1.0 cannot hold (control characters but tab and line breaks; lone surrogates).
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _signed_row(
    charger_id: int,
    connector_id: int,
    transaction_id: int | None,
    timestamp: datetime,
    sample: dict[str, Any],
) -> SignedRow | None:
    data = sample.get("value")
    if (
        not isinstance(data, str)
        or not data
        or len(data) > MAX_SIGNED_CHARS
        or _NOT_IN_XML.search(data)
    ):
        logger.warning(
            "Dropping a signed meter value of charger %s: empty, too long, or with a control "
            "character (no OCMF or base64 value has one, and the XML file could not hold it)",
            charger_id,
        )
        return None
    return SignedRow(
        charger_id,
        connector_id,
        transaction_id,
        timestamp,
        _clip("context", sample.get("context") or DEFAULT_CONTEXT),
        _clip("measurand", sample.get("measurand") or DEFAULT_MEASURAND),
        data,
    )


def _infer_currents(
    unlabelled: dict[str, float],
    offered: dict[str, float],
    power_w: float | None,
    phases: int,
    voltage_v: float,
) -> dict[str, float]:
    """Currents per phase of an entry with no labelled ``Current.Import``, the car on its first
    ``phases`` terminal phases (L1 for one phase): an unlabelled ``Current.Import`` is the current
    on each of them; else ``Power.Active.Import`` / (voltage x phases) on each; else
    ``Current.Offered`` (per phase as labelled, or unlabelled on each). Nothing of these: {}."""
    on = PHASES[: max(1, min(3, phases))]
    if "Current.Import" in unlabelled:
        return dict.fromkeys(on, unlabelled["Current.Import"])
    if power_w is not None and voltage_v > 0:
        return dict.fromkeys(on, max(0.0, power_w) / (voltage_v * len(on)))
    if offered:
        return dict(offered)
    if "Current.Offered" in unlabelled:
        return dict.fromkeys(on, unlabelled["Current.Offered"])
    return {}


class MeterBuffer:
    """Rows waiting to be written, and the latest energy register per session."""

    def __init__(
        self,
        write: Writer,
        *,
        interval_s: float = 1.0,
        max_rows: int = 2000,
        batch_rows: int = 20_000,
        write_signed: SignedWriter,
    ) -> None:
        self._write = write
        self._write_signed = write_signed
        self._signed: list[SignedRow] = []
        self.interval_s = interval_s
        self.max_rows = max_rows
        self.batch_rows = batch_rows  # at most this many per write, so no write runs long
        self._rows: list[MeterRow] = []
        self._registers: dict[tuple[int, int], tuple[datetime, float]] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.batches_written = 0
        self.rows_written = 0

    @property
    def pending(self) -> int:
        return len(self._rows)

    def add(
        self,
        rows: list[MeterRow | SignedRow],
        register: tuple[int, int, datetime, float] | None = None,
    ) -> None:
        """Queue rows; ``register`` = (charger id, transaction id, time, Wh) for the session."""
        for row in rows:
            if isinstance(row, SignedRow):
                self._signed.append(row)
            else:
                self._rows.append(row)
        if register is not None:
            charger_id, transaction_id, at, wh = register
            key = (charger_id, transaction_id)
            previous = self._registers.get(key)
            if previous is None or at >= previous[0]:
                self._registers[key] = (at, wh)
        if len(self._rows) > HARD_LIMIT_ROWS:
            dropped = len(self._rows) - HARD_LIMIT_ROWS
            del self._rows[:dropped]
            logger.error("Meter buffer full: dropped the %d oldest rows", dropped)
        if len(self._rows) >= self.max_rows:
            self._wake.set()

    async def run(self) -> None:
        """Flush every ``interval_s``, or sooner when ``max_rows`` rows are waiting."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Write everything waiting now, in batches of ``batch_rows``."""
        while True:
            await self._flush_batch()
            if not self._rows:
                return

    async def _flush_signed(self) -> None:
        """Write the signed values waiting; on a database failure keep them for the next try."""
        signed, self._signed = self._signed, []
        if not signed:
            return
        try:
            await self._write_signed(signed)
        except (OperationalError, InterfaceError):
            logger.exception("Writing %d signed meter values failed; retrying later", len(signed))
            self._signed[:0] = signed
        except Exception:
            logger.exception(
                "Dropping %d signed meter values that could not be written", len(signed)
            )

    async def _flush_batch(self) -> None:
        """Write one batch; on failure keep it for the next try."""
        async with self._lock:
            self._wake.clear()
            await self._flush_signed()  # after the sessions they belong to exist (written in turn)
            if not self._rows and not self._registers:
                return
            rows, self._rows = self._rows[: self.batch_rows], self._rows[self.batch_rows :]
            registers, self._registers = self._registers, {}
            try:
                await self._write(rows, {key: wh for key, (_, wh) in registers.items()})
            except (OperationalError, InterfaceError):
                # The database is away: keep the batch for the next try.
                logger.exception("Writing %d meter values failed; retrying later", len(rows))
                self._rows[:0] = rows
                for key, value in registers.items():
                    self._registers.setdefault(key, value)
                return
            except Exception:
                # Anything else would fail again: never let one bad batch block the rest.
                logger.exception("Dropping %d meter values that could not be written", len(rows))
                return
            self.batches_written += 1
            self.rows_written += len(rows)


def merge_readings(previous: Readings | None, fresh: list[Readings]) -> Readings:
    """Fold new readings of a connector over its previous ones (older ones do not win)."""
    merged = previous
    for reading in sorted(fresh, key=lambda r: r.timestamp):
        if merged is None:
            merged = reading
            continue
        if reading.timestamp < merged.timestamp:
            continue
        merged = Readings(
            timestamp=reading.timestamp,
            current_a={**merged.current_a, **reading.current_a},
            power_w=_first(reading.power_w, merged.power_w),
            register_wh=_first(reading.register_wh, merged.register_wh),
            soc_percent=_first(reading.soc_percent, merged.soc_percent),
        )
    assert merged is not None
    return merged


def _first(value: float | None, fallback: float | None) -> float | None:
    return value if value is not None else fallback


def live_fields(readings: dict[int, Readings], meter_start_wh: dict[int, int]) -> dict[str, str]:
    """The live-state hash fields of a charger (``routing.LiveState``): currents per phase and
    power summed over its connectors, energy of the sessions in progress, latest SoC."""
    currents: list[float | None] = [None, None, None]
    power: float | None = None
    soc: float | None = None
    energy: float | None = None
    measured_at: datetime | None = None  # balancing ignores a draw measured before a new limit
    for reading in readings.values():
        for index, phase in enumerate(("L1", "L2", "L3")):
            if phase in reading.current_a:
                currents[index] = (currents[index] or 0.0) + reading.current_a[phase]
        if reading.current_a and (measured_at is None or reading.timestamp > measured_at):
            measured_at = reading.timestamp
        if reading.power_w is not None:
            power = (power or 0.0) + reading.power_w
        if reading.soc_percent is not None:
            soc = reading.soc_percent
    for connector_id, start in meter_start_wh.items():
        reading = readings.get(connector_id)
        register = reading.register_wh if reading else None
        energy = (energy or 0.0) + (max(0.0, register - start) if register is not None else 0.0)
    values = {
        "current_l1": currents[0],
        "current_l2": currents[1],
        "current_l3": currents[2],
        "power_w": power,
        "energy_wh": energy,
        "soc_percent": soc,
    }
    fields = {key: "" if value is None else format(value, ".15g") for key, value in values.items()}
    fields["measured_at"] = measured_at.isoformat() if measured_at else ""
    return fields
