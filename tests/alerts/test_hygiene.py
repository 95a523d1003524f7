"""Where alerts sit: above events, installations, accounts and chargers; nothing but the URL
maps and the settings import them."""

from __future__ import annotations

import pytest

from tests.webhooks.test_hygiene import PROJECT, ROOT, imports_of, ours

ALLOWED = {"alerts", "events", "installations", "accounts", "chargers", "portal"}


def test_alerts_import_only_what_they_may() -> None:
    wrong = {
        str(source.relative_to(ROOT)): sorted(
            name for name in imports_of(source) if name.split(".")[0] in bad
        )
        for source in ours("alerts")
        if (bad := {n.split(".")[0] for n in imports_of(source)} & (PROJECT - ALLOWED))
    }
    assert wrong == {}


def test_nothing_but_the_url_maps_imports_alerts() -> None:
    importers = {
        str(source.relative_to(ROOT))
        for package in PROJECT | {"audit"}
        for source in ours(package)
        if any(name.split(".")[0] == "alerts" for name in imports_of(source))
    }
    assert importers <= {"portal/urls.py", "portal/api/urls.py"}


@pytest.mark.django_db
def test_the_admin_lists_subscriptions_and_the_outbox(admin_client) -> None:  # type: ignore[no-untyped-def]
    for model in ["subscription", "alertmail"]:
        assert admin_client.get(f"/admin/alerts/{model}/").status_code == 200
    assert admin_client.get("/admin/alerts/alertmail/add/").status_code == 403


def test_the_beat_checks_thresholds_often_and_sends_digests_daily() -> None:
    from celery.schedules import crontab
    from django.conf import settings

    from portal.celery import app

    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["alerts.tasks.check_and_send"] == settings.ALERTS_CHECK_INTERVAL_S == 15.0
    assert schedule["alerts.tasks.send_digests"] == crontab(hour=7, minute=0)
    app.loader.import_default_modules()
    assert {"alerts.tasks.check_and_send", "alerts.tasks.send_mails"} <= set(app.tasks)
    assert "alerts.tasks.send_digests" in app.tasks
