"""OCPP 1.6 smart charging as a charge point applies it: profiles, stacking, the limit now. Pure.

A charger holds ChargePointMaxProfile (connector 0 only: the whole charger), TxDefaultProfile
(connector 0 = every connector, or one connector) and TxProfile (one running transaction).
At any time, per purpose, the valid profile with the highest stack level wins (a connector's own
profile beats connector 0's at the same level); a TxProfile overrides the TxDefaultProfile, and
the ChargePointMaxProfile caps the sum over the connectors. Limits come in A or W per period;
``numberPhases`` (default: every phase the charger has) says how many phases may be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ocpp_bridge.simulator.car import NOMINAL_VOLTAGE_V

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
PURPOSES = (CHARGE_POINT_MAX, TX_DEFAULT, TX_PROFILE)
RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(weeks=1)}
MAX_STACK_LEVEL = 8
MAX_PERIODS = 24
MAX_PROFILES = 24


class ProfileError(ValueError):
    """A charging profile this charger cannot accept (SetChargingProfile answers Rejected)."""


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Period:
    start_s: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class Limit:
    """A per-phase current limit and, when the profile says so, how many phases may be used."""

    current_a: float
    phases: int | None = None


@dataclass(frozen=True)
class ChargingProfile:
    """One installed profile, as received in SetChargingProfile (snake_case keys)."""

    profile_id: int
    connector_id: int
    stack_level: int
    purpose: str
    kind: str
    unit: str  # "A" or "W"
    periods: tuple[Period, ...]
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None
    start_schedule: datetime | None = None
    duration_s: int | None = None
    min_charging_rate: float | None = None

    @classmethod
    def from_ocpp(cls, connector_id: int, data: dict[str, Any]) -> ChargingProfile:
        schedule = data["charging_schedule"]
        periods = tuple(
            Period(int(p["start_period"]), float(p["limit"]), p.get("number_phases"))
            for p in schedule["charging_schedule_period"]
        )
        profile = cls(
            profile_id=int(data["charging_profile_id"]),
            connector_id=connector_id,
            stack_level=int(data["stack_level"]),
            purpose=data["charging_profile_purpose"],
            kind=data["charging_profile_kind"],
            unit=schedule["charging_rate_unit"],
            periods=tuple(sorted(periods, key=lambda p: p.start_s)),
            recurrency=data.get("recurrency_kind"),
            valid_from=parse_time(data.get("valid_from")),
            valid_to=parse_time(data.get("valid_to")),
            transaction_id=data.get("transaction_id"),
            start_schedule=parse_time(schedule.get("start_schedule")),
            duration_s=schedule.get("duration"),
            min_charging_rate=schedule.get("min_charging_rate"),
        )
        profile.check()
        return profile

    def check(self) -> None:
        if self.purpose not in PURPOSES:
            raise ProfileError(f"unknown purpose {self.purpose}")
        if self.purpose == CHARGE_POINT_MAX and self.connector_id != 0:
            raise ProfileError("ChargePointMaxProfile only on connector 0")
        if self.purpose == TX_PROFILE and self.connector_id == 0:
            raise ProfileError("TxProfile needs a connector")
        if not 0 <= self.stack_level <= MAX_STACK_LEVEL:
            raise ProfileError("stack level out of range")
        if not self.periods or len(self.periods) > MAX_PERIODS or self.periods[0].start_s != 0:
            raise ProfileError("the first period must start at 0")
        if any(p.limit < 0 or p.number_phases not in (None, 1, 2, 3) for p in self.periods):
            raise ProfileError("bad period")
        if self.unit not in ("A", "W"):
            raise ProfileError("unit must be A or W")
        if self.kind == "Recurring" and (
            self.recurrency not in RECURRENCE or not self.start_schedule
        ):
            raise ProfileError("a recurring profile needs a recurrency kind and a start")
        if self.kind == "Absolute" and self.start_schedule is None:
            raise ProfileError("an absolute profile needs startSchedule")

    def valid_at(self, at: datetime) -> bool:
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at >= self.valid_to)

    def start_at(self, at: datetime, tx_start: datetime | None) -> datetime:
        """When the schedule (or its current recurrence) started, seen from ``at``."""
        if self.kind == "Relative":
            return tx_start or at
        assert self.start_schedule is not None
        if self.kind == "Recurring":
            step = RECURRENCE[self.recurrency or "Daily"]
            cycles = (at - self.start_schedule) // step
            return self.start_schedule + step * cycles
        return self.start_schedule

    def period_at(self, at: datetime, tx_start: datetime | None) -> Period | None:
        """The schedule period in force at ``at``, or None when the schedule says nothing then."""
        if not self.valid_at(at):
            return None
        offset = (at - self.start_at(at, tx_start)).total_seconds()
        if offset < 0 or (self.duration_s is not None and offset >= self.duration_s):
            return None
        current = None
        for period in self.periods:
            if period.start_s <= offset:
                current = period
        return current

    def breakpoints(
        self, start: datetime, end: datetime, tx_start: datetime | None
    ) -> list[datetime]:
        """Times in [start, end) where this profile's answer may change."""
        times = [t for t in (self.valid_from, self.valid_to) if t]
        origin = self.start_at(start, tx_start)
        step = RECURRENCE.get(self.recurrency or "") if self.kind == "Recurring" else None
        while origin < end:
            times += [origin + timedelta(seconds=p.start_s) for p in self.periods]
            if self.duration_s is not None:
                times.append(origin + timedelta(seconds=self.duration_s))
            if step is None:
                break
            origin += step
        return [t for t in times if start <= t < end]


def to_amperes(limit: float, unit: str, phases: int, voltage_v: float) -> float:
    return limit if unit == "A" else limit / (voltage_v * phases)


class ProfileStore:
    """The profiles a charger holds, and the limits they give."""

    def __init__(self, charger_phases: int, voltage_v: float = NOMINAL_VOLTAGE_V) -> None:
        self.charger_phases = charger_phases
        self.voltage_v = voltage_v
        self.profiles: list[ChargingProfile] = []

    def install(self, profile: ChargingProfile) -> None:
        """Add a profile, replacing one with the same id, or the same purpose, level and connector."""
        self.profiles = [
            p
            for p in self.profiles
            if p.profile_id != profile.profile_id
            and not (
                p.purpose == profile.purpose
                and p.stack_level == profile.stack_level
                and p.connector_id == profile.connector_id
            )
        ]
        if len(self.profiles) >= MAX_PROFILES:
            raise ProfileError("too many profiles installed")
        self.profiles.append(profile)

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """ClearChargingProfile: by id, or by every criterion given; True when any was removed."""

        def matches(p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return (
                (connector_id is None or p.connector_id == connector_id)
                and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        removed = len(kept) != len(self.profiles)
        self.profiles = kept
        return removed

    def end_transaction(self, connector_id: int) -> None:
        """A TxProfile lives as long as its transaction."""
        self.profiles = [
            p
            for p in self.profiles
            if not (p.purpose == TX_PROFILE and p.connector_id == connector_id)
        ]

    def _winner(
        self,
        purpose: str,
        connectors: tuple[int, ...],
        at: datetime,
        tx_start: datetime | None,
        tx_id: int | None = None,
    ) -> tuple[ChargingProfile, Period] | None:
        best: tuple[int, int, ChargingProfile, Period] | None = None
        for p in self.profiles:
            if p.purpose != purpose or p.connector_id not in connectors:
                continue
            if p.transaction_id is not None and tx_id is not None and p.transaction_id != tx_id:
                continue
            period = p.period_at(at, tx_start)
            if period is None:
                continue
            rank = (p.stack_level, 1 if p.connector_id else 0)
            if best is None or rank > best[:2]:
                best = (*rank, p, period)
        return None if best is None else (best[2], best[3])

    def _as_limit(self, found: tuple[ChargingProfile, Period] | None) -> Limit | None:
        if found is None:
            return None
        profile, period = found
        phases = period.number_phases or self.charger_phases
        amperes = to_amperes(period.limit, profile.unit, phases, self.voltage_v)
        return Limit(amperes, period.number_phases)

    def tx_profile_limit(
        self, connector_id: int, at: datetime, tx_start: datetime, tx_id: int | None
    ) -> Limit | None:
        """The running transaction's own TxProfile limit, if it has one now."""
        return self._as_limit(self._winner(TX_PROFILE, (connector_id,), at, tx_start, tx_id))

    def transaction_limit(
        self, connector_id: int, at: datetime, tx_start: datetime | None, tx_id: int | None
    ) -> Limit | None:
        """The TxProfile's limit for the running transaction, else the TxDefaultProfile's."""
        if tx_start is not None:
            found = self._winner(TX_PROFILE, (connector_id,), at, tx_start, tx_id)
            if found:
                return self._as_limit(found)
        return self._as_limit(self._winner(TX_DEFAULT, (connector_id, 0), at, tx_start))

    def charge_point_limit(self, at: datetime) -> Limit | None:
        """The ChargePointMaxProfile's limit: per phase, for all connectors together."""
        return self._as_limit(self._winner(CHARGE_POINT_MAX, (0,), at, None))

    def breakpoints(
        self, connector_id: int, start: datetime, end: datetime, tx_start: datetime | None
    ) -> list[datetime]:
        times = {start}
        for p in self.profiles:
            if p.connector_id in (0, connector_id):
                times.update(p.breakpoints(start, end, tx_start))
        return sorted(times)
