"""Validation of command payloads against the OCPP 1.6 JSON schemas, before anything is queued."""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

from ocpp.messages import MessageType, get_validator

# The 1.6 schemas give these actions decimals with one digit of precision; like the ocpp library,
# parse floats as Decimal for them so 21.4 is not rejected as 21.399999999999995.
_DECIMAL_ACTIONS = {"SetChargingProfile", "RemoteStartTransaction"}
# OCPP 1.6 integers are 32-bit, and no decimal it carries (a limit in A or W, a rate) comes near
# this; larger numbers (10**30, 1e308) are refused before the schema check, whose multipleOf test
# cannot divide them.
MAX_NUMBER = 2**31 - 1


def _unsendable(value: Any, path: str, errors: dict[str, list[str]]) -> None:
    """Values no charger could take and no JSON column can store: text with NUL or a lone
    surrogate (a valid JSON escape), numbers that are not finite or not 32-bit."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _bad_text(str(key)):
                errors.setdefault(path or "payload", []).append(
                    "A key contains a character that is not allowed (NUL or a lone surrogate)."
                )
            _unsendable(item, here, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _unsendable(item, f"{path}.{index}" if path else str(index), errors)
    elif isinstance(value, str):
        if _bad_text(value):
            errors.setdefault(path or "payload", []).append(
                "Contains a character that is not allowed (NUL or a lone surrogate)."
            )
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            errors.setdefault(path or "payload", []).append("Not a finite number.")
        elif abs(value) > MAX_NUMBER:
            errors.setdefault(path or "payload", []).append(
                f"Out of range: OCPP 1.6 numbers lie within ±{MAX_NUMBER}."
            )


def _bad_text(text: str) -> bool:
    if text.isascii():
        return "\x00" in text
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def payload_errors(action: str, payload: dict[str, Any]) -> dict[str, list[str]]:
    """Map of field path ("payload" for the payload itself) to messages; empty when it is valid."""
    errors: dict[str, list[str]] = {}
    _unsendable(payload, "", errors)
    if errors:
        return errors
    parse_float = decimal.Decimal if action in _DECIMAL_ACTIONS else float
    validator = get_validator(MessageType.Call, action, "1.6", parse_float=parse_float)
    document = json.loads(json.dumps(payload), parse_float=parse_float)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(part) for part in error.absolute_path)
        errors.setdefault(path or "payload", []).append(error.message)
    return errors
