"""The event catalogue: every type an ``Event`` can have, its severity, version and payload.

``docs/events.md`` carries the same catalogue for consumers (``tests/events/test_catalogue.py``
checks that the two agree). A type's payload may gain optional fields within its version; a field
removed, renamed or changed in meaning is a new version (consumers read ``version``). Payloads are
small and carry no personal data beyond Fusebox's own ids: never a card number (at most its last
four characters), a name or an e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.choices import EventType, Severity

CATALOGUE_VERSION = 1


@dataclass(frozen=True)
class EventSpec:
    """What one event type means and carries."""

    type: EventType
    severity: Severity
    version: int
    fields: tuple[str, ...]  # the payload's keys (each optional unless the doc says otherwise)
    meaning: str


_COMMAND_FIELDS = ("command_id", "action", "source", "status", "error")
_CORRECTED_FIELDS = (
    "session_id", "energy_wh", "stopped_at", "stop_reason", "driver_id",
    "inferred_energy_wh", "inferred_stopped_at",
)  # fmt: skip
_CHANGE_FIELDS = ("object_type", "object_id", "action", "fields", "actor_id", "via")

SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        EventType.CHARGER_CONNECTED,
        Severity.INFO,
        1,
        (),
        "The charger opened its websocket connection to a bridge node.",
    ),
    EventSpec(
        EventType.CHARGER_DISCONNECTED,
        Severity.INFO,
        1,
        ("reason",),
        "The charger's connection closed (or its bridge node vanished).",
    ),
    EventSpec(
        EventType.CHARGER_OFFLINE,
        Severity.WARNING,
        1,
        ("last_seen_at", "grace_seconds"),
        "The charger stayed disconnected longer than the grace period (EVENTS_OFFLINE_GRACE_S).",
    ),
    EventSpec(
        EventType.CHARGER_ONLINE,
        Severity.INFO,
        1,
        ("offline_seconds",),
        "A charger reported offline is connected again.",
    ),
    EventSpec(
        EventType.CHARGER_BOOTED,
        Severity.INFO,
        1,
        ("vendor", "model", "firmware_version"),
        "An accepted BootNotification: the charger (re)started.",
    ),
    EventSpec(
        EventType.CONNECTOR_FAULTED,
        Severity.CRITICAL,
        1,
        ("status", "error_code", "vendor_error_code", "vendor_id", "info"),
        "A StatusNotification with status Faulted or an errorCode other than NoError"
        " (connector 0: the charger itself).",
    ),
    EventSpec(
        EventType.CONNECTOR_RECOVERED,
        Severity.INFO,
        1,
        ("status",),
        "A connector that reported a fault reports a status without one.",
    ),
    EventSpec(
        EventType.SESSION_STARTED,
        Severity.INFO,
        1,
        ("session_id", "meter_start_wh", "driver_id", "authorized"),
        "A StartTransaction created a session (authorized: the charger was told Accepted).",
    ),
    EventSpec(
        EventType.SESSION_STOPPED,
        Severity.INFO,
        1,
        ("session_id", "energy_wh", "stop_reason", "inferred", "driver_id"),
        "A session ended: StopTransaction, or closed on evidence (inferred: reboot, car gone,"
        " charger offline too long).",
    ),
    EventSpec(
        EventType.SESSION_CORRECTED,
        Severity.INFO,
        1,
        _CORRECTED_FIELDS,
        "A session closed by inference got its StopTransaction later: the charger's final"
        " figures replace Fusebox's (once; session.stopped is not written again).",
    ),
    EventSpec(
        EventType.AUTHORIZATION_REFUSED,
        Severity.WARNING,
        1,
        ("status", "trigger", "id_tag_suffix"),
        "An Authorize, StartTransaction or remote start was not Accepted.",
    ),
    EventSpec(
        EventType.COMMAND_REJECTED,
        Severity.WARNING,
        1,
        _COMMAND_FIELDS,
        "The charger answered a command with a status other than Accepted.",
    ),
    EventSpec(
        EventType.COMMAND_FAILED,
        Severity.WARNING,
        1,
        _COMMAND_FIELDS,
        "A command could not be delivered or its answer was an error (CallError, broken answer,"
        " connection closed).",
    ),
    EventSpec(
        EventType.COMMAND_TIMED_OUT,
        Severity.WARNING,
        1,
        _COMMAND_FIELDS,
        "The charger did not answer a command within its timeout.",
    ),
    EventSpec(
        EventType.FIRMWARE_STATUS,
        Severity.INFO,
        1,
        ("status",),
        "A FirmwareStatusNotification (Downloading, Downloaded, DownloadFailed, Installing,"
        " Installed, InstallationFailed, Idle).",
    ),
    EventSpec(
        EventType.DIAGNOSTICS_STATUS,
        Severity.INFO,
        1,
        ("status",),
        "A DiagnosticsStatusNotification (Uploading, Uploaded, UploadFailed, Idle).",
    ),
    EventSpec(
        EventType.UPSTREAM_CONNECTED,
        Severity.INFO,
        1,
        (),
        "A bridged charger's upstream central system accepted its BootNotification.",
    ),
    EventSpec(
        EventType.UPSTREAM_DISCONNECTED,
        Severity.WARNING,
        1,
        ("reason",),
        "A bridged charger's upstream connection, accepted before, ended (reconnecting).",
    ),
    EventSpec(
        EventType.UPSTREAM_REFUSED,
        Severity.WARNING,
        1,
        ("reason",),
        "Upstream refused the charger: its BootNotification answered Rejected (retried).",
    ),
    EventSpec(
        EventType.SETTINGS_CHANGED,
        Severity.INFO,
        1,
        _CHANGE_FIELDS,
        "A person changed the installation, a circuit, a charger, the access policy, a price or"
        " a webhook endpoint (web, API or admin; the audit log has the values).",
    ),
    EventSpec(
        EventType.PERMISSIONS_CHANGED,
        Severity.INFO,
        1,
        _CHANGE_FIELDS,
        "A person changed who may do what: a member or role, an invitation, a charger"
        " permission or a charge card.",
    ),
    EventSpec(
        EventType.CAR_NOT_SERVED,
        Severity.WARNING,
        1,
        ("session_id", "since", "threshold_seconds", "min_current_a"),
        "A car connected to an online charger and not finished has had no current from"
        " balancing (below the charger's minimum) for BALANCING_NOT_SERVED_MINUTES.",
    ),
    EventSpec(
        EventType.CAR_SERVED,
        Severity.INFO,
        1,
        ("session_id", "not_served_seconds", "outcome"),
        "A car reported not served gets current again (outcome served) or no longer waits"
        " (left, finished, offline).",
    ),
    EventSpec(
        EventType.FUSE_OVERLOADED,
        Severity.CRITICAL,
        1,
        ("circuit_id", "name", "draw_a", "limit_a", "since"),
        "A fuse's measured draw (per phase, as the Load tab shows it) has been above its limit"
        " for BALANCING_OVERLOAD_DEBOUNCE_S; opens an overload incident.",
    ),
    EventSpec(
        EventType.FUSE_RECOVERED,
        Severity.INFO,
        1,
        ("circuit_id", "name", "draw_a", "limit_a", "overloaded_seconds"),
        "A fuse reported overloaded draws within its limit again; closes the incident.",
    ),
)

CATALOGUE: dict[str, EventSpec] = {spec.type.value: spec for spec in SPECS}


class UnknownEventType(ValueError):
    """A type that is not in the catalogue, or a payload field its type does not declare."""


def spec_of(event_type: str) -> EventSpec:
    try:
        return CATALOGUE[str(event_type)]
    except KeyError:
        raise UnknownEventType(f"Unknown event type {event_type!r}") from None


def check_payload(spec: EventSpec, payload: dict[str, object]) -> None:
    """Refuse a payload key the type does not declare (a typo would reach every consumer)."""
    if extra := payload.keys() - set(spec.fields):
        raise UnknownEventType(f"{spec.type}: undeclared payload fields {sorted(extra)}")
