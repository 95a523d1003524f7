"""The simulator's side of OCPP-J framing, cheap enough for thousands of chargers in one process.

The ``ocpp`` library turns a call dataclass into its payload with ``asdict`` (a deep copy),
``snake_to_camel_case`` (a dozen string replacements per key) and ``remove_nones``: about
0.4 ms for a MeterValues of 10 sampled values, most of a simulated charger's cost.
``payload_of`` gives the same dict (the tests compare them) from per-class field lists and
remembered key conversions. ``snake_keys`` is the reverse for the answers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

_camel: dict[str, str] = {}
_snake: dict[str, str] = {}
_fields: dict[type, tuple[tuple[str, str], ...]] = {}
_PLAIN = frozenset({str, int, float, bool})


def camel(key: str) -> str:
    """The library's ``snake_to_camel_case`` of one key, remembered."""
    converted = _camel.get(key)
    if converted is None:
        converted = _camel[key] = next(iter(snake_to_camel_case({key: None})))
    return converted


def _fields_of(cls: type) -> tuple[tuple[str, str], ...]:
    names = _fields.get(cls)
    if names is None:
        names = _fields[cls] = tuple((f.name, camel(f.name)) for f in dataclasses.fields(cls))
    return names


def payload_of(value: Any) -> Any:
    """``remove_nones(snake_to_camel_case(serialize_as_dict(value)))``, the library's payload
    of a call or call-result dataclass (nested dataclasses, dicts and lists included)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {
            _camel.get(k) or camel(k): v if type(v) in _PLAIN else payload_of(v)
            for k, v in value.items()
            if v is not None
        }
    if kind is list:
        return [payload_of(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {camel(k): payload_of(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [payload_of(v) for v in value if v is not None]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            key: payload_of(v)
            for name, key in _fields_of(type(value))
            if (v := getattr(value, name)) is not None
        }
    return value


def snake_keys(data: Any) -> Any:
    """The library's ``camel_to_snake_case``, with the key conversions remembered."""
    if isinstance(data, dict):
        converted = {}
        for key, value in data.items():
            snake = _snake.get(key)
            if snake is None:
                snake = _snake[key] = next(iter(camel_to_snake_case({key: None})))
            converted[snake] = snake_keys(value)
        return converted
    if isinstance(data, list):
        return [snake_keys(item) for item in data]
    return data
