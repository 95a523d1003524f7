"""Planning runs too large to wait for: a background job (planning.jobs), API and page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from installations.choices import Role
from installations.models import Membership
from planning import jobs, tasks
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _small_limit(settings: Any) -> None:
    settings.PLANNING_MAX_CHARGERS = 1  # the Harbour car park's 2 chargers go to a worker


def test_the_api_answers_202_and_a_worker_writes_the_report_only_the_asker_reads(
    world: World, history: float, django_capture_on_commit_callbacks: Any
) -> None:
    client = api_as(world.alice)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            f"/api/v1/installations/{world.site_a.pk}/what-if/", {"main_fuse_a": 50}, format="json"
        )
    assert response.status_code == 202, response.json()
    started = response.json()
    assert started["status"] == "queued"
    assert started["url"] == f"/api/v1/what-if/jobs/{started['job']}/"
    assert client.get(started["url"]).json() == {"status": "queued", "report": None, "error": None}

    assert tasks.run_job.apply(args=[started["job"]]).result == "done"
    assert tasks.run_job.apply(args=[started["job"]]).result is None  # delivered twice: once
    done = client.get(started["url"]).json()
    assert done["status"] == "done"
    assert done["report"]["validation"]["within_tolerance"] is True
    assert [s["main_fuse_a"] for s in done["report"]["scenarios"]] == [63, 50]

    for user in (world.ingrid, world.oscar, world.dora):  # only the asker
        assert api_as(user).get(started["url"]).status_code == 404
    Membership.objects.filter(user=world.alice, installation=world.site_a).update(role=Role.DRIVER)
    assert client.get(started["url"]).status_code == 404  # no longer may plan it


def test_bad_input_is_still_a_400_at_once_for_a_large_site(world: World, history: float) -> None:
    response = api_as(world.alice).post(
        f"/api/v1/installations/{world.site_a.pk}/what-if/", {"main_fuse_a": 20}, format="json"
    )
    assert response.status_code == 400
    assert "main_fuse_a" in response.json()["error"]["fields"]


def test_a_job_whose_asker_lost_the_installation_fails_without_its_data(
    world: World, history: float
) -> None:
    token = jobs.start_what_if(
        world.alice, world.site_a, jobs.Changes(), 28, world.site_a.created_at
    )
    Membership.objects.filter(user=world.alice, installation=world.site_a).delete()
    assert jobs.run(token) == jobs.JobStatus.FAILED


def test_the_page_goes_to_a_worker_and_shows_the_report_when_it_is_done(
    world: World, history: float, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    url = f"/installations/{world.site_a.pk}/planning/"
    response = client.get(url, {"days": 28, "more_cars_percent": 10})
    assert response.status_code == 302
    waiting_url = response["Location"]
    assert "job=" in waiting_url
    waiting = client.get(waiting_url)
    assert b'data-testid="planning-job"' in waiting.content
    assert b'http-equiv="refresh"' in waiting.content
    token = waiting_url.rsplit("job=", 1)[1]
    jobs.run(token)
    done = client.get(waiting_url)
    assert b'data-testid="planning-report"' in done.content
    assert b'http-equiv="refresh"' not in done.content
    csv = client.get(waiting_url + "&export=csv")
    assert b"Energy delivered (kWh)" in b"".join(csv.streaming_content)  # type: ignore[attr-defined]
    assert client_as(world.ingrid).get(waiting_url).status_code == 404


def test_a_large_new_site_is_planned_in_the_background_too(world: World) -> None:
    body = {
        "preset": "office",
        "main_fuse_a": 100,
        "circuit_a": 63,
        "chargers_per_circuit": 4,
        "charger_max_current_a": 16,
    }
    client = api_as(world.dora)
    started = client.post("/api/v1/what-if/new-site/", body, format="json").json()
    jobs.run(started["job"])
    report = client.get(started["url"]).json()["report"]
    assert report["scenarios"][0]["chargers"] == 4
