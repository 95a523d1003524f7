"""A start from the portal, from request to outcome, in one place (``RemoteStart.outcome`` and
``refresh_outcome``): what the API, the charging panel and the sweep say and store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from auth_access import hygiene, remote, tasks
from auth_access.choices import RemoteStartStatus
from auth_access.models import RemoteStart
from auth_access.virtual_tags import virtual_id_tag
from chargers.models import Charger
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from tests.conftest import World, api_as

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(0))
REQUESTED, ACCEPTED = RemoteStartStatus.REQUESTED, RemoteStartStatus.ACCEPTED
STARTED, FAILED = RemoteStartStatus.STARTED, RemoteStartStatus.FAILED
EXPIRED, REFUSED = RemoteStartStatus.EXPIRED, RemoteStartStatus.REFUSED


@pytest.mark.parametrize(
    ("status", "command", "error", "minutes_left", "outcome"),
    [
        (REQUESTED, CommandStatus.SENT, "", 4, (REQUESTED, "")),
        (REQUESTED, CommandStatus.ACCEPTED, "", 4, (ACCEPTED, "")),
        (REQUESTED, CommandStatus.REJECTED, "", 4, (FAILED, "The charger rejected the start.")),
        (REQUESTED, CommandStatus.TIMED_OUT, "", 4, (FAILED, "The charger did not answer.")),
        (
            REQUESTED,
            CommandStatus.FAILED,
            "Charger is offline.",
            4,
            (FAILED, "Charger is offline."),
        ),
        (REQUESTED, CommandStatus.SENT, "", 0, (EXPIRED, "The charger did not answer in time.")),
        (REQUESTED, CommandStatus.ACCEPTED, "", 0, (EXPIRED, "No car was plugged in in time.")),
        (ACCEPTED, CommandStatus.ACCEPTED, "", -1, (EXPIRED, "No car was plugged in in time.")),
        (STARTED, CommandStatus.ACCEPTED, "", -1, (STARTED, "")),  # final: stays
        (REFUSED, None, "", 4, (REFUSED, "")),
    ],
)
def test_the_outcome_follows_the_charger_and_the_clock(
    status: str, command: str | None, error: str, minutes_left: int, outcome: tuple
) -> None:
    remote_start = RemoteStart(
        status=status,
        expires_at=NOW + timedelta(minutes=minutes_left),
        command=Command(status=command, error=error) if command else None,
    )
    found = remote_start.outcome(NOW)
    assert (found.status, found.reason) == outcome
    assert found.final == (outcome[0] not in (REQUESTED, ACCEPTED))


def open_start(
    world: World, command_status: str, *, age: timedelta = timedelta(0), error: str = ""
) -> RemoteStart:
    created = timezone.now() - age
    command = Command.objects.create(
        charger=world.charger_a1,
        action=CommandAction.REMOTE_START_TRANSACTION,
        status=command_status,
        error=error,
    )
    return RemoteStart.objects.create(
        charger=world.charger_a1,
        connector_id=1,
        user=world.dora,
        id_tag=virtual_id_tag(world.dora.pk),
        command=command,
        created_at=created,
        expires_at=created + remote.REMOTE_START_WINDOW,
    )


def test_refresh_stores_it_once_and_a_session_linked_meanwhile_wins(world: World) -> None:
    rejected = open_start(world, CommandStatus.REJECTED)
    assert rejected.refresh_outcome().status == FAILED
    assert RemoteStart.objects.get(pk=rejected.pk).status == FAILED

    stale = open_start(world, CommandStatus.ACCEPTED)
    RemoteStart.objects.filter(pk=stale.pk).update(status=STARTED)  # the session began
    assert stale.refresh_outcome().status == STARTED
    assert RemoteStart.objects.get(pk=stale.pk).status == STARTED


def test_the_sweep_closes_stale_and_answered_starts(world: World) -> None:
    never_answered = open_start(world, CommandStatus.SENT, age=timedelta(minutes=6))
    no_car = open_start(world, CommandStatus.ACCEPTED, age=timedelta(minutes=6))
    refused = open_start(world, CommandStatus.REJECTED)
    taken = open_start(world, CommandStatus.ACCEPTED)
    waiting = open_start(world, CommandStatus.SENT)
    started = open_start(world, CommandStatus.ACCEPTED, age=timedelta(minutes=6))
    RemoteStart.objects.filter(pk=started.pk).update(status=STARTED)
    assert tasks.sweep()["remote_starts"] == 4
    statuses = dict(RemoteStart.objects.values_list("pk", "status"))
    assert [statuses[s.pk] for s in (never_answered, no_car, refused, taken, waiting, started)] == [
        EXPIRED, EXPIRED, FAILED, ACCEPTED, REQUESTED, STARTED,
    ]  # fmt: skip
    assert RemoteStart.objects.get(pk=no_car.pk).reason == "No car was plugged in in time."
    assert hygiene.settle_remote_starts() == 0  # twice: nothing moves


def test_the_api_shows_the_outcome_not_requested(world: World) -> None:
    remote_start = open_start(world, CommandStatus.TIMED_OUT)
    body = api_as(world.dora).get(f"/api/v1/remote-starts/{remote_start.pk}/").json()
    assert (body["status"], body["reason"]) == ("failed", "The charger did not answer.")
    other = open_start(world, CommandStatus.ACCEPTED)
    listed = api_as(world.alice).get("/api/v1/remote-starts/").json()["results"]
    assert {item["id"]: item["status"] for item in listed} == {
        remote_start.pk: "failed", other.pk: "accepted",
    }  # fmt: skip
    filtered = api_as(world.alice).get("/api/v1/remote-starts/?status=accepted").json()
    assert [item["id"] for item in filtered["results"]] == [other.pk]


@pytest.mark.parametrize(
    ("persona", "charger", "may"),
    [
        ("alice", "charger_a2", True),  # owner
        ("dora", "charger_a2", True),  # everywhere at the site
        ("dave", "charger_a1", True),  # named on A1
        ("dave", "charger_a2", False),
        ("oscar", "charger_a1", False),  # another tenant
    ],
)
def test_may_start_is_the_decision_for_a_start_from_the_portal(
    world: World, persona: str, charger: str, may: bool
) -> None:
    target: Charger = getattr(world, charger)
    assert remote.may_start(getattr(world, persona), target) is may
