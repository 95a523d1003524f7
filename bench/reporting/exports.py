"""Export benchmark: a 100,000-row Excel export written by the export job (time and peak memory)
and a 1,000,000-row CSV streamed by the API, over the data of ``bench.reporting``.

Run it with the embedded database and Redis (the data is generated once per folder, by the seed
of ``bench/reporting/__main__.py``)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-reporting -- \\
        .venv/bin/python -m bench.reporting.exports

Excel: the owner's newest ``--xlsx-rows`` sessions through ``reports/export/`` as a job, run in
this process by ``reporting.jobs.run`` (what the Celery task does): seconds and the process's
peak resident memory, after a tenth of the rows and after all of them (bounded memory: both
about the same). CSV: the owner's ``--csv-rows`` newest sessions streamed by the same endpoint
(the threshold raised so it streams), read to the end through Django's test client: seconds and
rows per second; then the same rows written to a file by a job.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from typing import Any

import django


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reporting.exports", description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000, help="seeded if fewer")
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-csv-job", action="store_true")
    return parser.parse_args(argv)


# This process's CPU seconds of each measurement (PostgreSQL's own work is not in it): on a
# machine shared with other work the wall-clock time is an upper bound, this a lower one.
CPU: list[float] = []


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def newest(owner: Any, rows: int) -> dict[str, str]:
    """The API parameters selecting the owner's ``rows`` newest sessions (ties: a few more)."""
    from chargers.models import ChargeSession
    from portal.tenancy import Action

    sessions = ChargeSession.objects.restrict(owner, Action.VIEW)
    if rows >= sessions.count():
        return {}
    start = sessions.order_by("-started_at", "-id").values_list("started_at", flat=True)[rows - 1]
    return {"from": start.isoformat()}


def job_run(owner: Any, fmt: str, filters: dict[str, str]) -> tuple[float, int, int]:
    """A job as the API would record it, run here: (seconds, rows, file bytes)."""
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from reporting import jobs
    from reporting.models import ExportJob

    job = ExportJob.objects.create(
        requested_by=owner,
        source=jobs.Source.API.value,
        format=fmt,
        parameters={"kind": "sessions", "format": fmt, **filters},
        expires_at=timezone.now() + jobs.retention(),
    )
    started, cpu = time.perf_counter(), time.process_time()
    status = jobs.run(job.pk)
    seconds = time.perf_counter() - started
    CPU.append(time.process_time() - cpu)
    job.refresh_from_db()
    if status != "done":
        raise SystemExit(f"export job {job.pk}: {status} {job.error}")
    size = default_storage.size(job.file.name)
    default_storage.delete(job.file.name)
    return seconds, job.rows_done, size


def streamed_csv(owner: Any, filters: dict[str, str]) -> tuple[float, int, int]:
    """The API's CSV read to the end: (seconds, rows, bytes)."""
    from django.test import Client

    client = Client()
    client.force_login(owner)
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(
        "/api/v1/reports/export/", {"kind": "sessions", "format": "csv", **filters}
    )
    if response.status_code != 200:
        raise SystemExit(f"CSV export: HTTP {response.status_code}")
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.perf_counter() - started
    CPU.append(time.process_time() - cpu)
    return seconds, lines - 2, size  # header and totals


def run(args: argparse.Namespace) -> None:
    from django.conf import settings

    from accounts.models import User
    from bench.reporting.__main__ import OWNER

    settings.ALLOWED_HOSTS = ["*"]
    settings.MEDIA_ROOT = str(settings.BASE_DIR / "var" / "bench-media")
    owner = User.objects.get(email=OWNER)
    print(f"process after start-up: peak RSS {peak_rss_mb():,.0f} MB", flush=True)

    tenth = args.xlsx_rows // 10
    seconds, rows, size = job_run(owner, "xlsx", newest(owner, tenth))
    print(
        f"xlsx job, {rows:,} rows: {seconds:.1f} s, {size / 1e6:.1f} MB file, "
        f"peak RSS {peak_rss_mb():,.0f} MB, CPU {CPU[-1]:.1f} s",
        flush=True,
    )
    seconds, rows, size = job_run(owner, "xlsx", newest(owner, args.xlsx_rows))
    print(
        f"xlsx job, {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
        f"{size / 1e6:.1f} MB file, peak RSS {peak_rss_mb():,.0f} MB, CPU {CPU[-1]:.1f} s",
        flush=True,
    )

    settings.REPORT_EXPORT_SYNC_ROWS = args.csv_rows * 2  # stream it, however large
    filters = newest(owner, args.csv_rows)
    seconds, rows, size = streamed_csv(owner, filters)
    print(
        f"CSV streamed, {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
        f"{size / 1e6:.0f} MB, peak RSS {peak_rss_mb():,.0f} MB, CPU {CPU[-1]:.1f} s",
        flush=True,
    )
    if not args.skip_csv_job:
        seconds, rows, size = job_run(owner, "csv", filters)
        print(
            f"CSV job, {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
            f"{size / 1e6:.0f} MB file, peak RSS {peak_rss_mb():,.0f} MB, CPU {CPU[-1]:.1f} s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from bench.reporting.__main__ import build
    from chargers.models import ChargeSession

    call_command("migrate", "--noinput", verbosity=0)
    build(args.sessions)
    print(f"{ChargeSession.objects.count():,} sessions", flush=True)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
