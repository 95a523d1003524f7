"""An authorization at a charger, from start to record: local decision, external authorizer, record.

Split for the bridge, whose three database threads serve every charger and must never wait on
the network:

1. ``begin()`` (a database thread): gather the facts and ``decide()``; note an unknown idTag
   as a ``SeenCard``. Without an external authorizer the decision is final and recorded here.
   Otherwise it returns the signed request to make. ``begin_many()`` does the same for all the
   Authorize requests a bridge has waiting, in one statement and one write.
2. ``conclude()`` (the event loop): make the call on the authorizer's own threads under a hard
   deadline, apply the answer or the fallback, and hand the record to a database write that the
   answer to the charger does not wait for.

Web requests (remote starts) do the same in one go with ``conclude_now()``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from auth_access import external
from auth_access.choices import (
    AuthorizationStatus,
    AuthorizationTrigger,
    DecisionSource,
    FallbackPolicy,
)
from auth_access.decisions import AccessFacts, Decision, Situation, decide, situations
from auth_access.models import AuthorizationRecord, SeenCard
from events import services as events
from events.choices import EventType
from installations.choices import AuthorizationMode

# Triggers the external authorizer is asked for (a StopTransaction's idTag only informs).
EXTERNAL_TRIGGERS = {
    AuthorizationTrigger.AUTHORIZE,
    AuthorizationTrigger.START,
    AuthorizationTrigger.REMOTE_START,
}


@dataclass(frozen=True)
class Check:
    """One decision in the making."""

    charger_id: int
    installation_id: int
    connector_id: int | None
    id_tag: str
    trigger: AuthorizationTrigger
    local: Decision  # final unless ``external`` is set
    source: DecisionSource  # of the local decision
    started: float  # perf_counter() when the check began
    external: external.ExternalRequest | None = None
    fallback: FallbackPolicy = FallbackPolicy.ACCEPT_KNOWN
    virtual: bool = False  # the idTag is a virtual one (a start from the portal)

    @property
    def decision(self) -> Decision:
        """The decision as far as it is known without the external authorizer."""
        return self.local


@dataclass(frozen=True)
class Outcome:
    """A final decision and how it was reached, ready to be recorded."""

    check: Check
    decision: Decision
    source: DecisionSource
    latency_ms: float


@dataclass(frozen=True)
class Asked:
    """One decision asked for (``begin_many()``)."""

    charger_id: int
    id_tag: str
    trigger: AuthorizationTrigger
    connector_id: int | None = None
    # perf_counter() when it was asked: the recorded latency includes any wait for its batch.
    started: float = field(default_factory=time.perf_counter)


def begin(
    charger_id: int,
    id_tag: str,
    trigger: AuthorizationTrigger,
    *,
    connector_id: int | None = None,
    now: datetime | None = None,
    remote_start: bool | None = None,
) -> Check:
    """Decide locally; record it unless the external authorizer is still to be asked."""
    asked = Asked(charger_id, id_tag, trigger, connector_id)
    (check,) = begin_many([asked], now=now, remote_start=remote_start)
    if check is None:
        from chargers.models import Charger

        raise Charger.DoesNotExist(f"No charger {charger_id}")
    return check


def begin_many(
    asked: Sequence[Asked],
    *,
    now: datetime | None = None,
    remote_start: bool | None = None,
    record: bool = True,
) -> list[Check | None]:
    """``begin()`` for many decisions at once, in their order (None: the charger does not exist
    any more): the facts of all in one statement, the records and sightings of unknown idTags
    of all in one write. ``record=False``: the decisions are not recorded (someone else decides
    and records the final one, e.g. the upstream bridge's central system; sightings are)."""
    now = now or timezone.now()
    found = situations([(a.charger_id, a.id_tag) for a in asked], now, remote_start=remote_start)
    checks: list[Check | None] = []
    final: list[Outcome] = []
    sightings: list[tuple[int, str]] = []
    for one, situation in zip(asked, found, strict=True):
        if situation is None:
            checks.append(None)
            continue
        check = _begin(one, situation, now)
        facts = situation.facts
        if facts.card is None and facts.virtual_user_id is None:
            sightings.append((one.charger_id, situation.id_tag))
        if check.external is None and record:
            final.append(settle(check, None))
        checks.append(check)
    record_many(final, sightings=sightings, seen_at=now)
    return checks


def _begin(asked: Asked, found: Situation, now: datetime) -> Check:
    facts = found.facts
    virtual = facts.virtual_user_id is not None
    check = Check(
        charger_id=asked.charger_id,
        installation_id=found.installation_id,
        connector_id=asked.connector_id,
        id_tag=found.id_tag,
        trigger=asked.trigger,
        local=decide(facts, now),
        source=DecisionSource.REMOTE_START if virtual else DecisionSource.LOCAL,
        started=asked.started,
        virtual=virtual,
    )
    policy = found.external
    if policy is None or not _asks_external(facts, asked.trigger):
        return check
    request = external.build_request(
        url=policy.url,
        secret=policy.secret,
        deadline_ms=policy.deadline_ms,
        fields=_request_fields(found, check),
        now=now,
        require_signed_reply=policy.require_signed_reply,
    )
    return replace(check, external=request, fallback=FallbackPolicy(policy.fallback))


def _asks_external(facts: AccessFacts, trigger: str) -> bool:
    if facts.mode != AuthorizationMode.LOCKED or trigger not in EXTERNAL_TRIGGERS:
        return False
    # The charger's Authorize/StartTransaction after a remote start: asked at the request already.
    return not (facts.virtual_user_id is not None and trigger != AuthorizationTrigger.REMOTE_START)


def _request_fields(found: Situation, check: Check) -> dict[str, Any]:
    facts = found.facts
    holder = facts.holder
    user = None
    if holder is not None and (facts.card is not None or facts.virtual_user_id is not None):
        user = {"id": holder.user_id, "email": found.user_email, "name": found.user_name}
    card = None
    if facts.card is not None:
        expires_at = facts.card.expires_at
        card = {
            "id": facts.card.card_id,
            "name": found.card_name,
            "is_blocked": facts.card.is_blocked,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
    return {
        "type": str(check.trigger),
        "installation": {"id": found.installation_id, "name": found.installation_name},
        "charger": {
            "id": found.charger_id,
            "identity": found.identity,
            "name": found.charger_name,
        },
        "connector": check.connector_id,
        "id_tag": check.id_tag,
        "card": card,
        "user": user,
        "local_decision": {"status": str(check.local.status), "reason": check.local.reason},
    }


def settle(check: Check, answer: external.ExternalAnswer | None) -> Outcome:
    """The final decision: the local one, the authorizer's, or the fallback's. Pure."""
    latency_ms = (time.perf_counter() - check.started) * 1000
    local = check.local
    if check.external is None or answer is None:
        return Outcome(check, local, check.source, latency_ms)
    ids = {"user_id": local.user_id, "card_id": local.card_id}
    if answer.status is not None:
        decision = Decision(
            AuthorizationStatus(answer.status),
            f"external authorizer: {answer.status}",
            expires_at=answer.expires_at,
            **ids,
        )
        return Outcome(check, decision, DecisionSource.EXTERNAL, latency_ms)
    if check.fallback == FallbackPolicy.REFUSE:
        decision = Decision(
            AuthorizationStatus.INVALID,
            f"external authorizer failed ({answer.error}): refused",
            **ids,
        )
    else:
        decision = replace(
            local, reason=f"external authorizer failed ({answer.error}): {local.reason}"
        )
    return Outcome(check, decision, DecisionSource.FALLBACK, latency_ms)


# Outside a transaction the records commit on their own, without waiting for the WAL flush: one
# round trip and no fsync wait on the path of every Authorize (about 0.25 ms of 0.5). On a
# PostgreSQL crash the records of the last moments (wal_writer_delay x 3, 0.6 s by default) may
# be lost, never half-written, as with the write-behind records of external decisions; sessions,
# cards and permissions keep full durability.
_ASYNC_COMMIT = "BEGIN; SET LOCAL synchronous_commit TO off; {}; COMMIT"
# The records of a batch as one array per column: a dozen parameters whatever the batch's size
# (a VALUES row per record would make psycopg parse and bind 12 placeholders per record).
_RECORD_COLUMNS = {
    "installation_id": "bigint", "charger_id": "bigint", "connector_id": "int",
    "id_tag": "text", "card_id": "bigint", "user_id": "bigint", "trigger": "text",
    "status": "text", "reason": "text", "source": "text", "latency_ms": "float8",
}  # fmt: skip


def _insert_records_sql() -> str:
    table = connection.ops.quote_name(AuthorizationRecord._meta.db_table)
    arrays = ", ".join(f"%s::{kind}[]" for kind in _RECORD_COLUMNS.values())
    return (
        f"INSERT INTO {table} ({', '.join(_RECORD_COLUMNS)}, created_at)"
        f" SELECT *, %s FROM unnest({arrays})"
    )


def record(outcome: Outcome) -> None:
    """Store one decision (``record_many()``)."""
    record_many([outcome])


def record_many(
    outcomes: Sequence[Outcome],
    *,
    sightings: Sequence[tuple[int, str]] = (),
    seen_at: datetime | None = None,
) -> None:
    """Store the decisions, and the ``sightings`` (charger id, idTag) of unknown idTags at
    ``seen_at``: one round trip, committed without waiting for the flush (this runs for every
    Authorize), or as part of the caller's transaction when there is one."""
    statements: list[str] = []
    params: list[Any] = []
    if sightings:
        seen_sql, seen_params = SeenCard.record_statement(sightings, seen_at or timezone.now())
        statements.append(seen_sql)
        params.extend(seen_params)
    if outcomes:
        columns: list[list[Any]] = [[] for _ in _RECORD_COLUMNS]
        for outcome in outcomes:
            check, decision = outcome.check, outcome.decision
            row = (
                check.installation_id, check.charger_id, check.connector_id, check.id_tag,
                decision.card_id, decision.user_id, str(check.trigger), str(decision.status),
                decision.reason[:200], str(outcome.source), round(outcome.latency_ms, 3),
            )  # fmt: skip
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        statements.append(_insert_records_sql())
        params += [timezone.now(), *columns]
        if refused := _refused_events(outcomes):  # authorization.refused, same transaction
            statements.append(refused[0])
            params += refused[1]
            events.wake_on_commit()
    if not statements:
        return
    sql = "; ".join(statements)
    if connection.in_atomic_block or not connection.get_autocommit():
        # Part of the caller's transaction, committed (or rolled back) with it.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        try:
            cursor.execute(_ASYNC_COMMIT.format(sql), params)
        except Exception:
            cursor.execute("ROLLBACK")  # a failed statement leaves our transaction open
            raise


def _refused_events(outcomes: Sequence[Outcome]) -> tuple[str, list[Any]] | None:
    """The INSERT of an ``authorization.refused`` event per decision that was not Accepted
    (docs/events.md: the card's last four characters only)."""
    return events.insert_statement(
        [
            events.Draft(
                EventType.AUTHORIZATION_REFUSED,
                charger_id=o.check.charger_id,
                installation_id=o.check.installation_id,
                connector_id=o.check.connector_id or 0,
                payload={
                    "status": str(o.decision.status),
                    "trigger": str(o.check.trigger),
                    "id_tag_suffix": o.check.id_tag[-4:],
                },
            )
            for o in outcomes
            if not o.decision.accepted
        ]
    )


Write = Callable[..., Awaitable[Any]]


async def conclude(check: Check, write: Write) -> Decision:
    """The final decision of ``check`` (event loop). With an external authorizer to ask, the
    call runs on its own threads under the deadline; ``write(fn, outcome)`` stores the record
    (the bridge's write-behind: the charger's answer does not wait for it)."""
    if check.external is None:
        return check.local
    answer = await external.ask(check.external)
    outcome = settle(check, answer)
    await write(record_on_thread, outcome)
    return outcome.decision


def record_on_thread(outcome: Outcome) -> None:
    """``record()`` on one of the bridge's database threads, whose connection may have gone stale
    between two uses."""
    close_old_connections()
    record(outcome)


def conclude_now(check: Check) -> Decision:
    """``conclude()`` for sync callers (web requests): the call blocks for the deadline at most."""
    if check.external is None:
        return check.local
    outcome = settle(check, external.ask_now(check.external))
    record(outcome)
    return outcome.decision


def link_remote_start(check: Check, session_id: int) -> None:
    """The session a virtual idTag started belongs to the latest open remote start of its user
    on this charger (one UPDATE)."""
    from auth_access.choices import RemoteStartStatus
    from auth_access.models import RemoteStart

    latest = (
        RemoteStart.objects.filter(
            charger_id=check.charger_id,
            user_id=check.local.user_id,
            status__in=RemoteStart.OPEN_STATUSES,
            session__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .values("pk")[:1]
    )
    RemoteStart.objects.filter(pk__in=latest).update(
        session_id=session_id, status=RemoteStartStatus.STARTED
    )
