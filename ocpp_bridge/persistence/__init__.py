"""The bridge's database work: plain sync functions, called from the event loop through
``Bridge.db`` (``sync_to_async`` on a thread pool of the bridge's own).

Every function starts with ``close_old_connections()`` (as healthchecks' smtpd does), so a
long-running bridge drops connections that are broken or past ``CONN_MAX_AGE``. Timestamps are
the charger's own: messages it queued while offline are stored at the time they happened.
Volume writes (meter values, last-seen times) take whole batches and run a constant number of
statements per batch.

One module per kind of work: `records` (the shapes exchanged with the bridge), `connections`,
`reports` (events, boots, statuses), `access`, `sessions` (start, stop, closed on evidence),
`meters`, `commands`. The package exports the functions the bridge calls.
"""

from ocpp_bridge.persistence.access import (
    authorize_id_tags,
    begin_for_upstream,
    boot_access_hooks,
)
from ocpp_bridge.persistence.commands import (
    claim_command,
    finish_command,
)
from ocpp_bridge.persistence.connections import (
    OnlineChange,
    find_chargers,
    record_online_changes,
    record_refused_attempt,
)
from ocpp_bridge.persistence.meters import (
    write_meter_values,
    write_signed_values,
)
from ocpp_bridge.persistence.records import (
    MAX_CONNECTOR_ID,
    METER_FIELDS,
    ActiveSession,
    CommandToSend,
    ConnectedState,
    MeterRow,
    ReportedState,
    SignedRow,
    StartOutcome,
    StopOutcome,
)
from ocpp_bridge.persistence.reports import (
    StatusReport,
    record_boot,
    record_event,
    record_status,
)
from ocpp_bridge.persistence.sessions import (
    close_inferred,
    start_transaction,
    stop_transaction,
)

__all__ = [
    "MAX_CONNECTOR_ID",
    "METER_FIELDS",
    "ActiveSession",
    "CommandToSend",
    "ConnectedState",
    "MeterRow",
    "OnlineChange",
    "ReportedState",
    "SignedRow",
    "StartOutcome",
    "StatusReport",
    "StopOutcome",
    "authorize_id_tags",
    "begin_for_upstream",
    "boot_access_hooks",
    "claim_command",
    "close_inferred",
    "find_chargers",
    "finish_command",
    "record_boot",
    "record_event",
    "record_online_changes",
    "record_refused_attempt",
    "record_status",
    "start_transaction",
    "stop_transaction",
    "write_meter_values",
    "write_signed_values",
]
