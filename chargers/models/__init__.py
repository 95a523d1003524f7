"""Chargers and what they report: connectors, charge sessions, meter values and events."""

from chargers.models.charger import Charger, Connector, ocpp_identity_validator
from chargers.models.event import ChargerEvent
from chargers.models.session import ChargeSession, MeterValue

__all__ = [
    "ChargeSession",
    "Charger",
    "ChargerEvent",
    "Connector",
    "MeterValue",
    "ocpp_identity_validator",
]
