"""``GET /api/v1/events/``: the outbox for API clients. Who reads what (the tenancy gate),
filters, bad input (400 naming the problem), cursor paging newest first and ``after=<id>``
oldest first in commit order (committed transactions: the module runs without the test
transaction, as a poller sees the database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction

from chargers.models import ChargeSession
from events.choices import EventType
from events.models import Event
from events.services import emit
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def events(world: World) -> dict[str, Event]:
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="D1",
        user=world.dora, started_at=at(2), meter_start_wh=0,
    )  # fmt: skip
    made = {
        "boot_a1": emit(
            EventType.CHARGER_BOOTED, charger_id=world.charger_a1.pk, occurred_at=at(0),
            payload={"firmware_version": "1.2"},
        ),
        "fault_a2": emit(
            EventType.CONNECTOR_FAULTED, charger_id=world.charger_a2.pk, connector_id=1,
            occurred_at=at(1), payload={"error_code": "GroundFailure"},
        ),
        "start_dora": emit(
            EventType.SESSION_STARTED, charger_id=world.charger_a1.pk, session_id=session.pk,
            occurred_at=at(2), payload={"session_id": session.pk},
        ),
        "boot_b1": emit(
            EventType.CHARGER_BOOTED, charger_id=world.charger_b1.pk, occurred_at=at(3)
        ),
    }  # fmt: skip
    assert all(made.values())
    return made  # type: ignore[return-value]


def ids(body: dict) -> list[int]:  # type: ignore[type-arg]
    return [row["id"] for row in body["results"]]


class TestWhoReadsWhat:
    def test_owners_and_installers_read_their_installations_events_newest_first(
        self, world: World, events: dict[str, Event]
    ) -> None:
        for user in (world.alice, world.ingrid):
            body = api_as(user).get("/api/v1/events/").json()
            assert ids(body) == [
                events["start_dora"].pk, events["fault_a2"].pk, events["boot_a1"].pk
            ]  # fmt: skip

    def test_a_driver_reads_only_the_events_of_their_own_sessions(
        self, world: World, events: dict[str, Event]
    ) -> None:
        assert ids(api_as(world.dora).get("/api/v1/events/").json()) == [events["start_dora"].pk]
        assert ids(api_as(world.dave).get("/api/v1/events/").json()) == []
        fault = events["fault_a2"].pk
        assert api_as(world.dora).get(f"/api/v1/events/{fault}/").status_code == 404

    def test_another_owner_never_sees_them(self, world: World, events: dict[str, Event]) -> None:
        client = api_as(world.oscar)
        assert ids(client.get("/api/v1/events/").json()) == [events["boot_b1"].pk]
        for name in ("boot_a1", "fault_a2", "start_dora"):
            assert client.get(f"/api/v1/events/{events[name].pk}/").status_code == 404
        answer = client.get(f"/api/v1/events/?after={events['boot_a1'].pk}")
        assert answer.status_code == 400  # not an event oscar may read: no position leaks

    def test_the_json_shape_is_the_catalogues(self, world: World, events: dict[str, Event]) -> None:
        fault = events["fault_a2"]
        body = api_as(world.alice).get(f"/api/v1/events/{fault.pk}/").json()
        assert body == {
            "id": fault.pk, "type": "connector.faulted", "version": 1, "severity": "critical",
            "timestamp": "2026-12-01T09:01:00.000Z", "recorded_at": body["recorded_at"],
            "installation": world.site_a.pk, "charger": world.charger_a2.pk, "connector": 1,
            "data": {"error_code": "GroundFailure"},
        }  # fmt: skip

    def test_writes_are_not_allowed(self, world: World, events: dict[str, Event]) -> None:
        client = api_as(world.alice)
        assert client.post("/api/v1/events/", {}, format="json").status_code == 405
        assert client.delete(f"/api/v1/events/{events['boot_a1'].pk}/").status_code == 405


class TestFilters:
    def test_installation_charger_type_severity_and_time(
        self, world: World, events: dict[str, Event]
    ) -> None:
        client = api_as(world.ingrid)

        def listed(query: str) -> list[int]:
            answer = client.get(f"/api/v1/events/?{query}")
            assert answer.status_code == 200, answer.content
            return ids(answer.json())

        boot, fault, start = events["boot_a1"].pk, events["fault_a2"].pk, events["start_dora"].pk
        assert listed(f"installation={world.site_a.pk}") == [start, fault, boot]
        assert listed(f"installation={world.site_b.pk}") == []  # not ingrid's
        assert listed(f"charger={world.charger_a1.pk}") == [start, boot]
        assert listed("type=charger.booted") == [boot]
        assert listed("type=charger.booted,session.started") == [start, boot]
        assert listed("severity=critical") == [fault]
        assert listed("since=2026-12-01T09:01:00Z") == [start, fault]
        assert listed("before=2026-12-01T09:01:00Z") == [boot]
        assert listed("since=2026-12-01T09:00:30Z&before=2026-12-01T09:01:30Z") == [fault]

    def test_bad_input_is_a_400_naming_it(self, world: World, events: dict[str, Event]) -> None:
        client = api_as(world.alice)
        answer = client.get("/api/v1/events/?type=charger.booted,charger.exploded")
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "invalid" and "charger.exploded" in error["fields"]["type"][0]
        assert "charger.booted" not in error["fields"]["type"][0]
        for query in (
            "since=yesterday",
            "before=2026-13-01",
            "severity=apocalyptic",
            "installation=x",
            "after=x",
            "after=999999999",
            "cursor=garbage",
        ):
            answer = client.get(f"/api/v1/events/?{query}")
            assert answer.status_code in (400, 404), (query, answer.status_code)
            assert "error" in answer.json(), query


class TestPaging:
    def test_cursor_pages_newest_first(self, world: World, events: dict[str, Event]) -> None:
        client = api_as(world.alice)
        first = client.get("/api/v1/events/?page_size=2").json()
        assert ids(first) == [events["start_dora"].pk, events["fault_a2"].pk]
        assert "count" not in first
        second = client.get(first["next"]).json()
        assert ids(second) == [events["boot_a1"].pk] and second["next"] is None

    def test_after_polls_oldest_first_in_commit_order(
        self, world: World, events: dict[str, Event]
    ) -> None:
        client = api_as(world.alice)
        first = client.get("/api/v1/events/?after=0&page_size=2").json()
        assert ids(first) == [events["boot_a1"].pk, events["fault_a2"].pk]
        assert f"after={events['fault_a2'].pk}" in first["next"]
        second = client.get(first["next"]).json()
        assert ids(second) == [events["start_dora"].pk]
        caught_up = client.get(second["next"]).json()
        assert ids(caught_up) == [] and f"after={events['start_dora'].pk}" in caught_up["next"]
        later = emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a2.pk)
        assert later is not None
        assert ids(client.get(caught_up["next"]).json()) == [later.pk]

    def test_after_holds_back_events_of_a_transaction_still_running(
        self, world: World, events: dict[str, Event]
    ) -> None:
        """An id taken by a transaction that has not committed yet is below the ids of events
        committed meanwhile: ``after`` waits for it instead of skipping it forever."""
        client = api_as(world.alice)
        last = events["start_dora"].pk
        other = connections.create_connection("default")
        try:
            other.set_autocommit(False)
            with other.cursor() as cursor:  # the slow writer takes its xid and its id first
                cursor.execute("SELECT pg_current_xact_id()")
            with other.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO events_event (type, installation_id, charger_id, connector_id,"
                    " occurred_at, severity, payload, version)"
                    " VALUES ('charger.booted', %s, %s, 0, now(), 'info', '{}', 1) RETURNING id",
                    [world.site_a.pk, world.charger_a1.pk],
                )
                (slow_id,) = cursor.fetchone()
            with transaction.atomic():
                fast = emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a2.pk)
            assert fast is not None and fast.pk > slow_id
            held = client.get(f"/api/v1/events/?after={last}").json()
            assert ids(held) == []  # the fast one waits behind the slow, running transaction
            other.commit()
        finally:
            other.close()
        assert ids(client.get(f"/api/v1/events/?after={last}").json()) == [slow_id, fast.pk]


def test_the_events_resource_is_in_the_openapi_schema(world: World) -> None:
    schema = api_as(world.alice).get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/events/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"installation", "charger", "type", "severity", "since", "before", "after"} <= names
    assert "/api/v1/fleet/" in schema["paths"]
