"""Validation of command payloads against the OCPP 1.6 JSON schemas, before anything is queued."""

from __future__ import annotations

import decimal
import json
from typing import Any

from ocpp.messages import MessageType, get_validator

# The 1.6 schemas give these actions decimals with one digit of precision; like the ocpp library,
# parse floats as Decimal for them so 21.4 is not rejected as 21.399999999999995.
_DECIMAL_ACTIONS = {"SetChargingProfile", "RemoteStartTransaction"}


def payload_errors(action: str, payload: dict[str, Any]) -> dict[str, list[str]]:
    """Map of field path ("" for the payload itself) to messages; empty when the payload is valid."""
    parse_float = decimal.Decimal if action in _DECIMAL_ACTIONS else float
    validator = get_validator(MessageType.Call, action, "1.6", parse_float=parse_float)
    document = json.loads(json.dumps(payload), parse_float=parse_float)
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(part) for part in error.absolute_path)
        errors.setdefault(path or "payload", []).append(error.message)
    return errors
