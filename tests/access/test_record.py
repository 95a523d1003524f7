"""Recording a decision cheaply (``checks.record``): one round trip with the seen card, a commit
of its own outside a transaction (without waiting for the WAL flush), part of the caller's
transaction inside one, and a connection left clean either way; many decisions at once
(``checks.begin_many``) in two statements."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import IntegrityError, connection, transaction
from psycopg.pq import TransactionStatus

from auth_access import checks
from auth_access.choices import AuthorizationTrigger
from auth_access.models import AuthorizationRecord, SeenCard
from installations.choices import AuthorizationMode
from tests.conftest import World


def statements_of(call: object) -> list[str]:
    seen: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        call()  # type: ignore[operator]
    return seen


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.usefixtures("transactional_db")
class TestOutsideATransaction:
    def test_an_unknown_card_costs_two_statements_and_both_rows_are_committed(
        self, world: World
    ) -> None:
        sent = statements_of(
            lambda: checks.begin(world.charger_a1.pk, "stranger-1", AuthorizationTrigger.AUTHORIZE)
        )
        facts, write = sent  # two round trips: the facts; the seen card and the record together
        assert facts.lstrip().startswith("SELECT")
        assert write.startswith("BEGIN; SET LOCAL synchronous_commit TO off; INSERT INTO")
        # The seen card, the record and its authorization.refused event (docs/events.md).
        assert write.count("INSERT INTO") == 3 and write.endswith("; COMMIT")
        assert '"events_event"' in write
        assert SeenCard.objects.get().id_tag == "STRANGER-1"
        assert AuthorizationRecord.objects.get().reason == "unknown card"
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
        assert synchronous_commit() == "on"  # SET LOCAL ended with its transaction

    def test_a_failed_record_leaves_the_connection_usable(self, world: World) -> None:
        check = checks.begin(world.charger_a1.pk, "stranger-1", AuthorizationTrigger.AUTHORIZE)
        broken = replace(check, charger_id=999_999)  # no such charger: the foreign key refuses
        with pytest.raises(IntegrityError):
            checks.record(checks.settle(broken, None))
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
        assert AuthorizationRecord.objects.count() == 1  # the first one, still usable


def test_inside_a_transaction_the_record_belongs_to_it(world: World) -> None:
    check = checks.begin(world.charger_a1.pk, "DORA-1", AuthorizationTrigger.AUTHORIZE)
    before = AuthorizationRecord.objects.count()
    try:
        with transaction.atomic():
            checks.record(checks.settle(check, None))
            assert AuthorizationRecord.objects.count() == before + 1
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert AuthorizationRecord.objects.count() == before


@pytest.mark.usefixtures("transactional_db")
def test_with_autocommit_off_the_caller_commits(world: World) -> None:
    check = checks.begin(world.charger_a1.pk, "DORA-1", AuthorizationTrigger.AUTHORIZE)
    transaction.set_autocommit(False)
    try:
        checks.record(checks.settle(check, None))
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert AuthorizationRecord.objects.count() == 1  # begin()'s own, not the rolled-back one


class TestManyAtOnce:
    """``checks.begin_many``: what the bridge does with the Authorize requests it has waiting."""

    ASKED = ["DORA-1", "dave-1", "OSCAR-1", "stranger-1", "INGRID-1", "DORA-1", "Stranger-1"]

    def asked(self, world: World) -> list[checks.Asked]:
        chargers = [world.charger_a1, world.charger_a2, world.charger_b1]
        return [
            checks.Asked(chargers[n % 3].pk, id_tag, AuthorizationTrigger.AUTHORIZE)
            for n, id_tag in enumerate(self.ASKED)
        ]

    @pytest.mark.usefixtures("cards")
    def test_each_decision_is_the_one_begin_takes_alone_in_the_order_asked(
        self, world: World
    ) -> None:
        world.site_a.authorization_mode = AuthorizationMode.LOCKED
        world.site_a.save()
        asked = self.asked(world)
        together = checks.begin_many(asked)
        alone = [checks.begin(a.charger_id, a.id_tag, a.trigger) for a in asked]
        assert [c and (c.charger_id, c.id_tag, c.local) for c in together] == [
            (c.charger_id, c.id_tag, c.local) for c in alone
        ]
        statuses = {str(c.local.status) for c in alone if c is not None}
        assert statuses >= {"Accepted", "Invalid"}  # the mix decides both ways

    @pytest.mark.usefixtures("cards", "transactional_db")
    def test_a_batch_costs_two_statements_whatever_its_size(self, world: World) -> None:
        asked = self.asked(world)
        gone = checks.Asked(999_999, "DORA-1", AuthorizationTrigger.AUTHORIZE)
        results: list[checks.Check | None] = []
        sent = statements_of(lambda: results.extend(checks.begin_many([*asked, gone])))
        assert len(sent) == 2  # the facts of all; the seen cards and records of all
        assert results[-1] is None  # a charger that does not exist fails its own request only
        assert AuthorizationRecord.objects.count() == len(asked)
        # The stranger was asked for twice at the same charger: one row, counted twice.
        (seen,) = SeenCard.objects.filter(id_tag="STRANGER-1")
        assert seen.times_seen == 2 and seen.charger_id == world.charger_a1.pk
        latencies = AuthorizationRecord.objects.values_list("latency_ms", flat=True)
        assert all(latency > 0 for latency in latencies)
