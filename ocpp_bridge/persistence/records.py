"""Shapes the bridge and its database work exchange: what a connection loads, what a start or stop
returns, a meter row, a command to send."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from auth_access import checks
from auth_access.decisions import Decision

logger = logging.getLogger(__name__)

# A connector the charger reports beyond this number gets events, not a Connector row.
MAX_CONNECTOR_ID = 16

# Order of the values of one meter row, as ``meter_buffer`` builds them.
METER_FIELDS = (
    "charger",
    "connector_id",
    "transaction_id",
    "timestamp",
    "measurand",
    "phase",
    "value",
    "unit",
    "context",
    "location",
)
MeterRow = tuple[int, int, int | None, datetime, str, str, float, str, str, str]


@dataclass(frozen=True)
class ActiveSession:
    """What a connection remembers of a transaction in progress on a connector."""

    transaction_id: int
    meter_start_wh: int


class ReportedState(NamedTuple):
    """What a connector last reported, as stored on the Connector row."""

    status: str
    error_code: str  # "" for NoError
    info: str
    vendor_error_code: str


@dataclass(frozen=True)
class ConnectedState:
    """What a new connection loads once: connector states and sessions in progress."""

    connectors: dict[int, ReportedState]
    active_sessions: dict[int, ActiveSession]
    upstream: Any = None  # the charger's effective ``UpstreamSettings``; None: not bridged


@dataclass(frozen=True)
class StartOutcome:
    transaction_id: int
    decision: Decision  # the local decision; ``check`` says whether an external one follows
    created: bool
    check: checks.Check | None = None


@dataclass(frozen=True)
class StopOutcome:
    found: bool
    connector_id: int | None
    decision: Decision | None
    repeated: bool = False  # the session had these very stop values already: store nothing new


@dataclass(frozen=True)
class CommandToSend:
    id: int
    identity: str
    action: str
    payload: dict[str, Any]
    timeout_s: float


def clipped(text: str) -> str:
    """``text`` cut to the 200 characters an event summary holds."""
    return text if len(text) <= 200 else text[:199] + "…"


@dataclass(frozen=True)
class SignedRow:
    """A sampled value with ``format: SignedData``, verbatim (``SignedMeterValue``)."""

    charger_id: int
    connector_id: int
    transaction_id: int | None
    timestamp: datetime
    context: str
    measurand: str
    signed_data: str
