"""OCPP-J framing for the bridge: every frame a charger sends is parsed, checked and routed, and
every bad one gets the CALLERROR OCPP 1.6 prescribes (``FrameRouter``); the connection lives on.

The JSON-schema check of each payload is compiled once per schema into a plain Python function
(``_fast_check``): a payload it accepts skips the library's jsonschema validator, and only a
payload it rejects goes through that validator, to be classified into its 1.6 error code.
Handlers' payload keys become snake_case through a remembered conversion (``snake_case``).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import (
    FormationViolationError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator, unpack
from ocpp.v16 import ChargePoint
from ocpp.v16.enums import Action
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

# How a JSON-schema violation is reported: the library's classification (type, maxLength,
# additionalProperties, required), refined where it lumps distinct 1.6 errors together.
SCHEMA_ERRORS: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,
    "additionalProperties": FormationViolationError,
    "required": ProtocolError,
    "enum": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "pattern": PropertyConstraintViolationError,
    "minItems": OccurenceConstraintViolationError,
    "maxItems": OccurenceConstraintViolationError,
}
# OCPP 1.6 spells these two codes its own way (errata 5.1, 5.2); the library raises the 2.x names.
OCPP16_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}
NOT_KNOWN = "Requested Action is not known by receiver"
NOT_SUPPORTED = "Requested Action is recognized but not supported by the receiver"
_UNIQUE_ID = re.compile(r'^\s*\[\s*\d+\s*,\s*"([^"\\]{1,64})"')


def call_error(unique_id: Any, error: OCPPError) -> str:
    """The CALLERROR frame for ``error``, with the 1.6 code and only the cause as details."""
    cause = (error.details or {}).get("cause") if isinstance(error.details, dict) else None
    code = OCPP16_CODES.get(error.code, error.code)
    details = {"cause": str(cause)} if cause else {}
    return CallError(unique_id, code, error.description, details).to_json()


def guess_unique_id(raw: str | bytes) -> str:
    """The message id of a frame that could not be unpacked, if it shows one; else "-1"."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        message = json.loads(text)
    except ValueError:
        match = _UNIQUE_ID.match(text)
        return match.group(1) if match else "-1"
    if isinstance(message, list) and len(message) > 1 and isinstance(message[1], str):
        return message[1]
    return "-1"


def schema_error(message_type_id: int, action: str, payload: Any) -> OCPPError | None:
    """The first JSON-schema violation of a payload, as the OCPP error to answer, or None.

    A compiled check accepts valid payloads fast; only a payload it does not accept goes through
    jsonschema, which finds (and classifies) the violation.
    """
    validator = get_validator(message_type_id, action, "1.6")
    if _fast_check(validator.schema)(payload):
        return None
    violation = next(iter(validator.iter_errors(payload)), None)
    if violation is None:
        path = _oversized_integer(payload)
        if path is not None:
            cause = f"{path}: integer beyond 64 bits" if path else "integer beyond 64 bits"
            return PropertyConstraintViolationError(details={"cause": cause})
        return None
    path = ".".join(str(part) for part in violation.absolute_path)
    cause = f"{path}: {violation.message}" if path else violation.message
    error_class = SCHEMA_ERRORS.get(str(violation.validator), FormationViolationError)
    return error_class(details={"cause": cause})


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _oversized_integer(value: Any, path: str = "") -> str | None:
    """The path of the first integer outside signed 64 bits in ``value``, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return path if not INT64_MIN <= value <= INT64_MAX else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _oversized_integer(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


Check = Callable[[Any], bool]
_IGNORED_KEYWORDS = {"$schema", "$id", "id", "title", "description", "format", "javaType"}
_SUPPORTED_KEYWORDS = {
    "type", "enum", "maxLength", "properties", "required", "additionalProperties", "items",
    "minItems",
}  # fmt: skip
_TYPE_TESTS = {  # Python source of each JSON type's test, for a value named {v}
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    # An integer no database column holds (the schemas set no bound) is refused here, not by a
    # DataError in a handler: within signed 64 bits (``_oversized_integer`` names it).
    "integer": (
        "(isinstance({v}, int) and {v} is not True and {v} is not False"
        " and -9223372036854775808 <= {v} <= 9223372036854775807)"
    ),
    "number": "(isinstance({v}, (int, float)) and {v} is not True and {v} is not False)",
    "boolean": "isinstance({v}, bool)",
}
_fast_checks: dict[int, Check] = {}


def _fast_check(schema: dict[str, Any]) -> Check:
    """A predicate true only for values ``schema`` accepts (cached per schema)."""
    check = _fast_checks.get(id(schema))
    if check is None:
        check = _fast_checks[id(schema)] = _compile(schema)
    return check


def _never(value: Any) -> bool:
    return False


class _Unsupported(Exception):
    """The schema uses a keyword the compiler does not handle: jsonschema decides."""


def _compile(schema: dict[str, Any]) -> Check:
    """Compile the JSON-schema subset the OCPP 1.6 schemas use (type, enum, maxLength,
    properties, required, additionalProperties, items, minItems) into the source of one Python
    function, straight-line tests and loops (5-10 times faster than nested closures). With any
    other keyword the predicate says no, and jsonschema decides."""
    lines = ["def check(v0):"]
    constants: dict[str, Any] = {"_MISSING": object()}
    try:
        _emit(schema, "v0", 1, lines, constants)
    except _Unsupported:
        return _never
    lines.append("    return True")
    exec("\n".join(lines), constants)  # the source is ours, built above from the schema
    return constants["check"]  # type: ignore[no-any-return]


def _emit(
    schema: dict[str, Any], var: str, depth: int, lines: list[str], constants: dict[str, Any]
) -> None:
    """Append the tests of ``schema`` on the variable ``var`` (each ``return False`` on failure)."""
    pad = "    " * depth
    if set(schema) - _IGNORED_KEYWORDS - _SUPPORTED_KEYWORDS or not isinstance(
        schema.get("items", {}), dict
    ):
        raise _Unsupported

    def constant(value: Any) -> str:
        name = f"_c{len(constants)}"
        constants[name] = value
        return name

    def fresh() -> str:  # a variable name not used yet (each is assigned on a line of its own)
        return f"v{len(lines)}"

    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind not in _TYPE_TESTS:
            raise _Unsupported
        lines.append(f"{pad}if not {_TYPE_TESTS[kind].format(v=var)}: return False")
    if "enum" in schema:
        if not all(isinstance(item, str) for item in schema["enum"]):
            raise _Unsupported
        allowed = constant(frozenset(schema["enum"]))
        lines.append(f"{pad}if not isinstance({var}, str) or {var} not in {allowed}: return False")
    if "maxLength" in schema:
        longest = int(schema["maxLength"])
        lines.append(f"{pad}if isinstance({var}, str) and len({var}) > {longest}: return False")
    if "items" in schema or "minItems" in schema:
        fewest = int(schema.get("minItems", 0))
        item = fresh()
        lines.append(f"{pad}if isinstance({var}, list):")
        lines.append(f"{pad}    if len({var}) < {fewest}: return False")
        lines.append(f"{pad}    for {item} in {var}:")
        _emit(schema.get("items", {}), item, depth + 2, lines, constants)
        lines.append(f"{pad}        pass")
    properties: dict[str, Any] = schema.get("properties", {})
    required = schema.get("required", [])
    closed = schema.get("additionalProperties", True) is False
    if properties or required or closed:
        lines.append(f"{pad}if isinstance({var}, dict):")
        for name in required:
            lines.append(f"{pad}    if {str(name)!r} not in {var}: return False")
        if closed:
            known = constant(frozenset(properties))
            lines.append(f"{pad}    if not {known}.issuperset({var}): return False")
        for name, subschema in properties.items():
            value = fresh()
            lines.append(f"{pad}    {value} = {var}.get({str(name)!r}, _MISSING)")
            lines.append(f"{pad}    if {value} is not _MISSING:")
            _emit(subschema, value, depth + 2, lines, constants)
            lines.append(f"{pad}        pass")


_snake_keys: dict[str, str] = {}


_LEAVES = frozenset({str, int, float, bool, type(None)})


def snake_case(data: Any) -> Any:
    """``camel_to_snake_case`` with the key conversions remembered (payload keys are the
    schemas' property names, a small set), and leaves returned without a call."""
    if isinstance(data, dict):
        return {
            _snake_keys.get(key) or _snake_key(key): value
            if type(value) in _LEAVES
            else snake_case(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [item if type(item) in _LEAVES else snake_case(item) for item in data]
    return data


def _snake_key(key: str) -> str:
    snake = _snake_keys[key] = next(iter(camel_to_snake_case({key: None})))
    return snake


_class_routes: dict[type, dict[str, dict[str, Any]]] = {}


def _routes_of(cls: type) -> dict[str, dict[str, Any]]:
    """Action -> {"_on_action": function, "_after_action": function} of a class's handlers
    (``@on`` / ``@after``), as the library's ``create_route_map`` but with plain functions."""
    routes = _class_routes.get(cls)
    if routes is None:
        routes = {}
        for name in dir(cls):
            function = inspect.getattr_static(cls, name, None)
            for option in ("_on_action", "_after_action"):
                action = getattr(function, option, None)
                if action is not None:
                    routes.setdefault(action, {})[option] = function
        _class_routes[cls] = routes
    return routes


class FrameRouter(ChargePoint):
    """The library's ChargePoint with routing that answers every bad frame and never gives up.

    The library drops frames it cannot parse and lets a handler's exception end ``start()``;
    here a frame that is not JSON, not an OCPP message, of an unknown action or against the
    schema gets the CALLERROR OCPP 1.6 prescribes, a handler's bug an InternalError, and the
    connection carries on.
    """

    current_payload: dict[str, Any]  # the call being handled, camelCase as the charger sent it

    # The library keeps a map of bound methods per connection: ~40 objects in reference cycles
    # that, once the connection is long-lived (frozen, see bridge.GarbageCollection), only a full
    # collection frees. The routes are the class's: one map of functions per class instead.
    @property
    def route_map(self) -> dict[str, dict[str, Any]]:
        return _routes_of(type(self))

    @route_map.setter
    def route_map(self, value: Any) -> None:
        """The library's per-connection map (set in its ``__init__``) is not kept."""

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            await self._send(call_error(guess_unique_id(raw_msg), error))
            return
        if isinstance(message, Call):
            try:
                await self._handle_call(message)
            except OCPPError as error:
                await self._send(call_error(message.unique_id, error))
            except ConnectionClosed:
                raise
            except Exception:
                logger.exception("%s: handling %s failed", self.id, message.action)
                await self._send(call_error(message.unique_id, InternalError()))
        elif self._call_lock.locked():  # the answer to the call we are waiting for
            self._response_queue.put_nowait(message)
        else:
            logger.warning("%s: answer %r to no pending call, ignored", self.id, message.unique_id)

    async def _handle_call(self, msg: Call) -> None:
        if not isinstance(msg.action, str):
            raise FormationViolationError(details={"cause": "Action must be a string"})
        handlers = self.route_map.get(msg.action, {})
        handler = handlers.get("_on_action")
        if handler is None:
            try:
                Action(msg.action)
            except ValueError:
                raise NotImplementedError(
                    description=NOT_KNOWN, details={"cause": f"Unknown action {msg.action}"}
                ) from None
            raise NotSupportedError(
                description=NOT_SUPPORTED, details={"cause": f"{msg.action} is not supported"}
            )
        error = schema_error(MessageType.Call, msg.action, msg.payload)
        if error is not None:
            raise error
        kwargs = snake_case(msg.payload)
        self.current_payload = msg.payload
        result = handler(self, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(result)))
        if schema_error(MessageType.CallResult, msg.action, payload) is not None:
            logger.error("%s: invalid answer to %s: %s", self.id, msg.action, payload)
            raise InternalError()
        await self._send(CallResult(msg.unique_id, payload).to_json())
        after_hook = handlers.get("_after_action")
        if after_hook is not None:
            try:
                done = after_hook(self, **kwargs)
                if inspect.isawaitable(done):
                    await done
            except Exception:
                logger.exception("%s: work after %s failed", self.id, msg.action)

    async def _send(self, message: str) -> None:
        # The library logs every frame at INFO: far too much for thousands of chargers.
        logger.debug("%s: send %s", self.id, message)
        await self._connection.send(message)
