"""Large exports as jobs: over ``REPORT_EXPORT_SYNC_ROWS`` rows an export is written by a Celery
worker (a real one on the real broker where it matters), the user follows its progress, gets an
e-mail with the link, downloads the file for a day; small exports still stream. Only the user
who asked sees a job; the worker rebuilds the export through the same tenancy gate."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from allauth.account.models import EmailAddress
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from accounts.api_tokens import TokenScope
from accounts.models import User
from installations.models import Membership
from portal.celery import app as celery_app
from reporting import jobs, tasks
from reporting.exports import ExportFormat
from reporting.models import ExportJob, ExportStatus
from tests.conftest import World
from tests.reporting.conftest import make_session, price_from
from tests.web.test_browser import assert_fits, log_in

OSLO = ZoneInfo("Europe/Oslo")
SESSIONS = 30
THRESHOLD = 10


@pytest.fixture
def exports(settings: Any, tmp_path: Path) -> Path:
    """Exports of more than ten rows become jobs; files under a folder of this test."""
    settings.REPORT_EXPORT_SYNC_ROWS = THRESHOLD
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://fusebox.example"
    return tmp_path / "media"


def history(world: World, count: int = SESSIONS) -> None:
    """``count`` sessions at the harbour (alice's), the even ones dora's; one at oscar's depot."""
    start = datetime(2026, 3, 1, 8, 0, tzinfo=OSLO)
    price_from(world.site_a, start - timedelta(days=30), "2.5000", "NOK")
    for n in range(count):
        make_session(
            world.charger_a1 if n % 2 else world.charger_a2, start + timedelta(hours=n),
            energy_wh=1000 + n, user=world.dora if n % 2 == 0 else world.dave, id_tag=f"T{n}",
        )  # fmt: skip
    make_session(world.charger_b1, start, user=world.oscar, energy_wh=5000)


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def the_job() -> ExportJob:
    return ExportJob.objects.get()


def run_job(job: ExportJob) -> ExportJob:
    """The task's body, in this thread (where a worker adds nothing)."""
    tasks.write_export.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def file_bytes(client: Client | APIClient, job: ExportJob) -> bytes:
    """The job's file, from the page's download link (the web client) or the API's."""
    if isinstance(client, APIClient):
        response = client.get(f"/api/v1/reports/exports/{job.pk}/download/")
    else:
        response = client.get(reverse("reporting:export_download", args=[job.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


# ---------- small and large ----------


@pytest.mark.django_db
class TestSyncOrAsync:
    def test_small_exports_still_stream_at_once(self, world: World, exports: Path, client_as):
        history(world, count=THRESHOLD)
        url = reverse("reporting:history_export", args=[world.site_a.pk, "csv"])
        response = client_as(world.alice).get(url)
        assert response.status_code == 200 and response.streaming
        assert len(csv_rows(b"".join(response.streaming_content))) == THRESHOLD + 2
        api = api_as(world.alice).get(
            "/api/v1/reports/export/", {"kind": "sessions", "format": "csv"}
        )
        assert api.status_code == 200 and api["Content-Type"].startswith("text/csv")
        assert not ExportJob.objects.exists()

    def test_a_large_history_export_is_a_job_whose_file_has_the_rows_and_types(
        self, world: World, exports: Path, client_as
    ) -> None:
        history(world)
        client = client_as(world.alice)
        url = reverse("reporting:history_export", args=[world.site_a.pk, "xlsx"])
        response = client.get(url, {"charger": world.charger_a1.pk, "bogus": "x"})
        job = the_job()
        assert response.status_code == 302
        assert response["Location"] == reverse("reporting:export_job", args=[job.pk])
        assert (job.status, job.source, job.format) == ("queued", "history", "xlsx")
        assert job.arguments == {"pk": world.site_a.pk}
        assert job.parameters == {"charger": str(world.charger_a1.pk)}  # only the page's filters
        page = client.get(response["Location"])
        assert b"Queued" in page.content and b"Refresh" in page.content

        job = run_job(job)
        assert job.status == ExportStatus.DONE
        assert (job.rows_done, job.rows_total) == (SESSIONS // 2, SESSIONS // 2)
        assert job.expires_at - job.finished_at == timedelta(hours=24)
        book = load_workbook(io.BytesIO(file_bytes(client, job)))
        rows = list(book["Charging history"].iter_rows(min_row=2, values_only=True))
        sessions, total = rows[:-1], rows[-1]
        assert len(sessions) == SESSIONS // 2
        newest = sessions[0]
        assert newest[0] == datetime(2026, 3, 2, 13, 0)  # 08:00 + 29 h, Oslo wall-clock time
        assert isinstance(newest[5], float) and newest[5] == pytest.approx(1.029)
        assert newest[11] == "A1" and newest[9] == "Dave Driver"
        assert total[0] == f"Total: {SESSIONS // 2} sessions"
        assert book["Filters"]["B5"].value == "A1"
        status = client.get(reverse("reporting:export_status", args=[job.pk])).json()
        assert status["status"] == "done" and status["percent"] == 100
        assert status["download_url"] == reverse("reporting:export_download", args=[job.pk])

    def test_a_large_usage_export_is_a_job_too(
        self, world: World, exports: Path, client_as, settings: Any
    ) -> None:
        history(world)  # two local days, two drivers
        url = reverse("reporting:usage_export", args=[world.site_a.pk, "csv"])
        client = client_as(world.alice)
        assert client.get(url, {"group_by": "day"}).status_code == 200  # two rows: streamed
        settings.REPORT_EXPORT_SYNC_ROWS = 1
        assert client.get(url, {"group_by": "day"}).status_code == 302
        job = run_job(the_job())
        assert job.title == "Usage per day, Harbour car park"
        rows = csv_rows(file_bytes(client, job))
        assert sorted(row[1] for row in rows[1:-1]) == ["2026-03-01", "2026-03-02"]
        assert sum(int(row[2]) for row in rows[1:-1]) == SESSIONS

    def test_progress_is_told_every_so_many_rows(self, world: World, monkeypatch) -> None:
        job = ExportJob.objects.create(
            requested_by=world.alice, source="history", format="csv",
            expires_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
        monkeypatch.setattr(jobs, "PROGRESS_EVERY_ROWS", 5)
        rows = jobs.with_progress(iter([[n] for n in range(12)]), job.pk)
        seen = []
        for _ in rows:
            job.refresh_from_db()
            seen.append(job.rows_done)
        job.refresh_from_db()
        assert seen == [0] * 5 + [5] * 5 + [10] * 2 and job.rows_done == 12


# ---------- the API and a real worker ----------


@pytest.fixture
def worker() -> Iterator[None]:
    """A Celery worker in a thread, on the real broker (Redis)."""
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def eventually(check: Callable[[], Any], timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_202_and_a_worker_writes_the_file(
    world: World, exports: Path, worker: None
) -> None:
    history(world)
    client = api_as(world.alice)
    response = client.get(
        "/api/v1/reports/export/",
        {"kind": "sessions", "format": "csv", "installation": world.site_a.pk},
    )
    assert response.status_code == 202
    body = response.json()
    job_url = body["url"]
    assert response["Location"] == job_url
    assert job_url.endswith(f"/api/v1/reports/exports/{body['id']}/")
    assert body["status"] in ("queued", "running", "done")

    done = eventually(lambda: (r := client.get(job_url).json())["status"] == "done" and r)
    assert (done["rows_done"], done["rows_total"], done["percent"]) == (SESSIONS, SESSIONS, 100)
    download = client.get(done["download_url"])
    assert download.status_code == 200
    assert 'filename="sessions-' in download["Content-Disposition"]
    rows = csv_rows(b"".join(download.streaming_content))
    assert rows[0][0] == "Start" and len(rows) == SESSIONS + 2
    assert rows[1][0] == "2026-03-02 13:00:00+01:00" and rows[1][5] == "1.029"
    listed = client.get("/api/v1/reports/exports/").json()
    assert [job["id"] for job in listed["results"]] == [body["id"]]
    # The e-mail: text and HTML, the link to the job's page.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    link = f"https://fusebox.example/my/exports/{body['id']}/"
    assert message.to == ["alice@example.com"] and link in message.body
    assert link in message.alternatives[0][0]


@pytest.mark.django_db
class TestTheTask:
    def test_running_twice_writes_one_file(self, world: World, exports: Path, client_as):
        history(world)
        client_as(world.alice).get(reverse("reporting:my_export", args=["csv"]))
        assert not ExportJob.objects.exists()  # alice charged nothing herself
        client_as(world.dora).get(reverse("reporting:my_export", args=["csv"]))
        job = run_job(the_job())
        assert job.status == ExportStatus.DONE
        assert tasks.write_export.apply(args=[job.pk]).result is None  # not claimed again
        assert len(list((exports / "exports" / str(job.pk)).iterdir())) == 1
        # A job whose worker died long ago is claimed again; the file is replaced, not doubled.
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.RUNNING, progress_at=timezone.now() - timedelta(hours=1)
        )
        assert run_job(job).status == ExportStatus.DONE
        assert len(list((exports / "exports" / str(job.pk)).iterdir())) == 1

    def test_a_driver_exports_only_her_own_sessions(self, world: World, exports: Path, client_as):
        history(world)
        client = client_as(world.dora)
        client.get(reverse("reporting:my_export", args=["csv"]))
        rows = csv_rows(file_bytes(client, run_job(the_job())))[1:-1]
        assert len(rows) == SESSIONS // 2 and {row[9] for row in rows} == {"Dora Driver"}
        # Her export through the API, unfiltered: her sessions only, also at the depot.
        make_session(world.charger_b1, timezone.now(), user=world.dora, energy_wh=1)
        api = api_as(world.dora)
        response = api.get("/api/v1/reports/export/", {"kind": "sessions", "format": "csv"})
        job = run_job(ExportJob.objects.get(pk=response.json()["id"]))
        rows = csv_rows(file_bytes(api, job))[1:-1]
        assert len(rows) == SESSIONS // 2 + 1 and {row[9] for row in rows} == {"Dora Driver"}

    def test_the_worker_applies_the_tenancy_gate_again(
        self, world: World, exports: Path, client_as
    ) -> None:
        history(world)
        client = client_as(world.ingrid)
        client.get(reverse("reporting:history_export", args=[world.site_a.pk, "csv"]))
        job = the_job()
        Membership.objects.filter(user=world.ingrid, installation=world.site_a).delete()
        job = run_job(job)
        assert job.status == ExportStatus.FAILED and not job.file
        assert job.error == "You may no longer see what this export covers."
        page = client.get(reverse("reporting:export_job", args=[job.pk]))
        assert b"You may no longer see what this export covers." in page.content
        assert client.get(reverse("reporting:export_download", args=[job.pk])).status_code == 404

    def test_an_error_fails_the_job_with_a_message(self, world: World, exports: Path) -> None:
        job = ExportJob.objects.create(
            requested_by=world.alice, source="gone", format="csv",
            expires_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
        job = run_job(job)
        assert job.status == ExportStatus.FAILED
        assert job.error == "This export is no longer available."
        assert not mail.outbox

    def test_a_lost_database_is_retried_then_given_up(
        self, world: World, exports: Path, monkeypatch
    ) -> None:
        job = ExportJob.objects.create(
            requested_by=world.alice, source="history", format="csv",
            arguments={"pk": world.site_a.pk}, expires_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip

        def gone(job: ExportJob) -> str:
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(jobs, "_write", gone)
        with pytest.raises(jobs.TransientError):
            jobs.run(job.pk, final_attempt=False)
        job.refresh_from_db()
        assert job.status == ExportStatus.QUEUED  # back in the queue for the task's retry
        assert jobs.run(job.pk, final_attempt=True) == ExportStatus.FAILED
        job.refresh_from_db()
        assert job.error == "The database was unavailable; please start the export again."

    def test_a_broker_that_refuses_the_job_fails_it_with_a_message(
        self,
        world: World,
        exports: Path,
        client_as,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ) -> None:
        history(world)

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise ConnectionRefusedError("broker down")

        monkeypatch.setattr(tasks.write_export, "delay", refuse)
        client = client_as(world.alice)
        url = reverse("reporting:history_export", args=[world.site_a.pk, "csv"])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(url)
        assert response.status_code == 302  # the user lands on the job's page, not on a 500
        job = the_job()
        assert job.status == ExportStatus.FAILED
        assert b"could not be started" in client.get(response["Location"]).content

    def test_no_mail_to_an_unverified_address(self, world: World, exports: Path, client_as):
        history(world)
        EmailAddress.objects.filter(user=world.dora).update(verified=False)
        client_as(world.dora).get(reverse("reporting:my_export", args=["xlsx"]))
        assert run_job(the_job()).status == ExportStatus.DONE
        assert not mail.outbox

    def test_files_are_kept_for_a_day(self, world: World, exports: Path, client_as) -> None:
        history(world)
        client = client_as(world.alice)
        client.get(reverse("reporting:history_export", args=[world.site_a.pk, "csv"]))
        job = run_job(the_job())
        path = Path(default_storage.path(job.file.name))
        assert path.exists()
        assert jobs.expire() == 0  # not yet
        later = job.expires_at + timedelta(seconds=1)
        assert jobs.expire(later) == 1 and jobs.expire(later) == 0
        job.refresh_from_db()
        assert job.status == ExportStatus.EXPIRED and not job.file and not path.exists()
        assert client.get(reverse("reporting:export_download", args=[job.pk])).status_code == 404
        assert b"Expired" in client.get(reverse("reporting:export_job", args=[job.pk])).content
        # The beat task runs the same sweep.
        assert "reporting.tasks.expire_exports" in {
            entry["task"] for entry in celery_app.conf.beat_schedule.values()
        }


# ---------- who sees a job ----------


@pytest.mark.django_db
def test_only_the_user_who_asked_sees_a_job(world: World, exports: Path, client_as) -> None:
    history(world)
    Membership.objects.create(user=world.oscar, installation=world.site_a, role="driver")
    client_as(world.alice).get(reverse("reporting:history_export", args=[world.site_a.pk, "csv"]))
    job = run_job(the_job())
    pages = [
        reverse("reporting:export_job", args=[job.pk]),
        reverse("reporting:export_status", args=[job.pk]),
        reverse("reporting:export_download", args=[job.pk]),
    ]
    api = [f"/api/v1/reports/exports/{job.pk}/", f"/api/v1/reports/exports/{job.pk}/download/"]
    for client, urls in ((client_as(world.alice), pages), (api_as(world.alice), api)):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            if response.streaming:  # read to the end: the test client then closes the file
                b"".join(response.streaming_content)
    # Another owner (now also a driver here), a driver of the same site, an installer of the
    # same site and of another, a user of no installation.
    stranger = User.objects.create_user(email="eve@example.com", password="x")
    for persona in (world.oscar, world.dora, world.dave, world.ingrid, stranger):
        for url in pages:
            assert client_as(persona).get(url).status_code == 404, (persona, url)
        for url in api:
            assert api_as(persona).get(url).status_code == 404, (persona, url)
        listed = client_as(persona).get(reverse("reporting:export_jobs"))
        assert listed.status_code == 200 and not listed.context["jobs"]
        assert api_as(persona).get("/api/v1/reports/exports/").json()["results"] == []
    mine = client_as(world.alice).get(reverse("reporting:export_jobs"))
    assert [j.pk for j in mine.context["jobs"]] == [job.pk]


@pytest.mark.django_db
def test_bad_input_is_a_400_naming_the_parameter(world: World, exports: Path) -> None:
    history(world)
    client = api_as(world.alice)
    cases = [
        ({"kind": "rows", "format": "csv"}, "kind"),
        ({"kind": "sessions", "format": "pdf"}, "format"),
        ({"kind": "sessions", "format": "csv", "from": "yesterday"}, "from"),
        ({"kind": "usage", "format": "csv", "group_by": "hour"}, "group_by"),
    ]
    for params, name in cases:
        response = client.get("/api/v1/reports/export/", params)
        assert response.status_code == 400, params
        assert name in str(response.json()), (params, response.json())
    other = client.get("/api/v1/reports/export/", {"kind": "sessions", "format": "csv",
                                                   "installation": world.site_b.pk})  # fmt: skip
    assert other.status_code == 404
    assert client.get("/api/v1/reports/exports/999999/").status_code == 404
    assert not ExportJob.objects.exists()


def test_the_schema_names_the_job_and_its_download() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert "202" in paths["/api/v1/reports/export/"]["get"]["responses"]
    assert "/api/v1/reports/exports/{id}/" in paths
    assert "/api/v1/reports/exports/{id}/download/" in paths


# ---------- in a browser ----------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_large_export_in_the_browser(
    page: Page, world: World, exports: Path, worker: None, tmp_path: Path, screenshot
) -> None:
    history(world)
    log_in(page, "alice@example.com")
    page.goto(reverse("reporting:history", args=[world.site_a.pk]))
    page.get_by_role("link", name="Excel").click()
    expect(page.get_by_role("heading", name="Charging history, Harbour car park")).to_be_visible()
    panel = page.get_by_test_id("export-job")
    expect(panel.locator("[data-export=status]")).to_have_text("Ready", timeout=20_000)
    expect(panel.get_by_role("progressbar")).to_have_attribute("value", "100")
    expect(panel.locator("[data-export=rows]")).to_have_text(f"{SESSIONS} of {SESSIONS} rows")
    screenshot(page, "65-export-ready")
    page.set_viewport_size({"width": 375, "height": 812})
    assert_fits(page)
    screenshot(page, "66-export-ready-phone")
    with page.expect_download() as info:
        panel.get_by_role("link", name="Download").click()
    path = tmp_path / "history.xlsx"
    info.value.save_as(path)
    sheet = load_workbook(path)["Charging history"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == SESSIONS + 1
    assert rows[-1][5] == pytest.approx(
        float(sum(Decimal(1000 + n) for n in range(SESSIONS)) / 1000)
    )
    page.goto(reverse("reporting:export_jobs"))
    expect(page.get_by_test_id("export-jobs").locator("tbody tr")).to_have_count(1)


@pytest.mark.django_db
def test_a_token_limited_to_some_installations_keeps_its_limits_in_its_jobs(
    world: World, exports: Path
) -> None:
    """The worker builds a limited token's export within its installations, and such a token
    lists only the jobs asked within them (not the user's other jobs)."""
    from accounts.api_tokens import create_token

    history(world)
    _, key_c = create_token(world.ingrid, "office only", installations=[world.site_c])
    _, key_all = create_token(world.ingrid, "everything")

    def with_key(key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    # The harbour's 30 sessions are a job for a full token; a web job too.
    full = with_key(key_all).get("/api/v1/reports/export/", {"kind": "sessions", "format": "csv"})
    assert full.status_code == 202
    web_job = ExportJob.objects.get(pk=full.json()["id"])
    assert web_job.token_installations is None
    # A job asked through the office-only token (large by its parameters when asked, say)
    # is rebuilt within the office: none of the harbour's sessions.
    ingrid = User.objects.get(pk=world.ingrid.pk)
    ingrid.token_scope = TokenScope(read_only=False, installation_ids=frozenset({world.site_c.pk}))
    limited_job = jobs.start(
        ingrid, jobs.Source.API, ExportFormat.CSV, arguments={},
        parameters={"kind": "sessions", "format": "csv"}, title="limited",
    )  # fmt: skip
    assert limited_job.token_installations == [world.site_c.pk]
    with default_storage.open(run_job(limited_job).file.name) as written:
        rows = csv_rows(written.read())
    assert rows[0][0] == "Start" and not any("Harbour" in ",".join(row) for row in rows)
    assert len(run_job(web_job).file.name) > 0

    office = with_key(key_c)
    assert [j["id"] for j in office.get("/api/v1/reports/exports/").json()["results"]] == [
        limited_job.pk
    ]
    assert office.get(f"/api/v1/reports/exports/{web_job.pk}/").status_code == 404
    assert office.get(f"/api/v1/reports/exports/{web_job.pk}/download/").status_code == 404
    listed = with_key(key_all).get("/api/v1/reports/exports/").json()["results"]
    assert sorted(j["id"] for j in listed) == sorted([web_job.pk, limited_job.pk])
