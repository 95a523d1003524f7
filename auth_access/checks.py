"""An authorization at a charger, from start to record: local decision, external authorizer, record.

Split for the bridge, whose three database threads serve every charger and must never wait on
the network:

1. ``begin()`` (a database thread): gather the facts and ``decide()``; note an unknown idTag
   as a ``SeenCard``. Without an external authorizer the decision is final and recorded here.
   Otherwise it returns the signed request to make.
2. ``conclude()`` (the event loop): make the call on the authorizer's own threads under a hard
   deadline, apply the answer or the fallback, and hand the record to a database write that the
   answer to the charger does not wait for.

Web requests (remote starts) do the same in one go with ``conclude_now()``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from auth_access import external
from auth_access.choices import (
    AuthorizationStatus,
    AuthorizationTrigger,
    DecisionSource,
    FallbackPolicy,
)
from auth_access.decisions import AccessFacts, Decision, Situation, decide, situation
from auth_access.models import AuthorizationRecord, SeenCard
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
    started = time.perf_counter()
    now = now or timezone.now()
    found = situation(charger_id, id_tag, now, remote_start=remote_start)
    facts = found.facts
    local = decide(facts, now)
    unknown = facts.card is None and facts.virtual_user_id is None
    virtual = facts.virtual_user_id is not None
    check = Check(
        charger_id=charger_id,
        installation_id=found.installation_id,
        connector_id=connector_id,
        id_tag=found.id_tag,
        trigger=trigger,
        local=local,
        source=DecisionSource.REMOTE_START if virtual else DecisionSource.LOCAL,
        started=started,
        virtual=virtual,
    )
    policy = found.external
    if policy is not None and _asks_external(facts, trigger):
        request = external.build_request(
            url=policy.url,
            secret=policy.secret,
            deadline_ms=policy.deadline_ms,
            fields=_request_fields(found, check),
            now=now,
            require_signed_reply=policy.require_signed_reply,
        )
        if unknown:
            SeenCard.record(charger_id, found.id_tag, now)
        return replace(check, external=request, fallback=FallbackPolicy(policy.fallback))
    record(settle(check, None), seen_at=now if unknown else None)
    return check


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


_INSERT_SQL: str | None = None
# Outside a transaction the record commits on its own, without waiting for the WAL flush: one
# round trip and no fsync wait on the path of every Authorize (about 0.25 ms of 0.5). On a
# PostgreSQL crash the records of the last moments (wal_writer_delay x 3, 0.6 s by default) may
# be lost, never half-written, as with the write-behind records of external decisions; sessions,
# cards and permissions keep full durability.
_ASYNC_COMMIT = "BEGIN; SET LOCAL synchronous_commit TO off; {}; COMMIT"


def _insert_sql() -> str:
    global _INSERT_SQL
    if _INSERT_SQL is None:
        columns = [
            "installation_id", "charger_id", "connector_id", "id_tag", "card_id", "user_id",
            "trigger", "status", "reason", "source", "latency_ms", "created_at",
        ]  # fmt: skip
        _INSERT_SQL = (
            f'INSERT INTO "{AuthorizationRecord._meta.db_table}" ({", ".join(columns)})'
            f" VALUES ({', '.join(['%s'] * len(columns))})"
        )
    return _INSERT_SQL


def record(outcome: Outcome, *, seen_at: datetime | None = None) -> None:
    """Store the decision, and with ``seen_at`` the sighting of an unknown idTag (one round
    trip, one commit without waiting for the flush: this runs for every Authorize)."""
    check, decision = outcome.check, outcome.decision
    sql = _insert_sql()
    params: list[Any] = [
        check.installation_id, check.charger_id, check.connector_id, check.id_tag,
        decision.card_id, decision.user_id, str(check.trigger), str(decision.status),
        decision.reason[:200], str(outcome.source), round(outcome.latency_ms, 3),
        timezone.now(),
    ]  # fmt: skip
    if seen_at is not None:
        seen_sql, seen_params = SeenCard.record_statement(check.charger_id, check.id_tag, seen_at)
        sql, params = f"{seen_sql}; {sql}", [*seen_params, *params]
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


Write = Callable[..., Awaitable[Any]]


async def conclude(check: Check, write: Write) -> Decision:
    """The final decision of ``check`` (event loop). With an external authorizer to ask, the
    call runs on its own threads under the deadline; ``write(fn, outcome)`` stores the record
    (the bridge's write-behind: the charger's answer does not wait for it)."""
    if check.external is None:
        return check.local
    from ocpp_bridge import persistence

    answer = await external.ask(check.external)
    outcome = settle(check, answer)
    await write(persistence.record_authorization, outcome)
    return outcome.decision


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
