"""`make demo` seeds months of history: thousands of finished sessions at both demo sites, by
several drivers and visitors, never two at once on a connector, a price change in the middle;
a second run does nothing."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from chargers.models import ChargeSession, MeterValue
from portal.tenancy import Action
from reporting.models import PricePeriod
from reporting.queries import GroupBy, summarise
from tests.conftest import api_as

pytestmark = pytest.mark.django_db


def test_demo_history_is_realistic_and_seeded_once() -> None:
    call_command("load_demo_data", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo_history", stdout=out)
    sessions = list(ChargeSession.objects.select_related("charger__installation"))
    assert 2000 <= len(sessions) <= 6000, out.getvalue()
    assert {s.charger.installation.name for s in sessions} == {
        "Solbakken housing cooperative", "Nordic logistics depot",
    }  # fmt: skip
    assert all(s.status == "completed" and s.stopped_at < timezone.now() for s in sessions)
    assert all(0 <= s.charging_seconds <= s.connected_seconds for s in sessions)
    assert min(s.started_at for s in sessions) < timezone.now() - timedelta(days=150)
    assert len({s.user_id for s in sessions}) >= 10  # residents, fleet drivers, visitors (None)
    per_connector = defaultdict(list)
    for s in sessions:
        per_connector[s.connector_id].append((s.started_at, s.stopped_at))
    for spans in per_connector.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    owner = User.objects.get(email="owner@demo.test")
    months = summarise(ChargeSession.objects.restrict(owner, Action.VIEW), GroupBy.MONTH)
    assert len({row.key for row in months}) >= 6
    assert (
        PricePeriod.objects.filter(installation__name="Solbakken housing cooperative").count() == 3
    )
    # The last two weeks are measured (their hours add up), the rest estimated.
    recent = [s for s in sessions if s.started_at >= timezone.now() - timedelta(days=13)]
    old = [s for s in sessions if s.started_at < timezone.now() - timedelta(days=15)]
    assert recent and old
    sampled = set(MeterValue.objects.values_list("transaction_id", flat=True).distinct())
    assert {s.pk for s in recent} <= sampled and not sampled & {s.pk for s in old}
    detail = api_as(owner).get(f"/api/v1/sessions/{recent[0].pk}/energy/").json()
    assert detail["estimated"] is False and detail["power_measured"] is True
    assert sum(h["energy_wh"] for h in detail["hours"]) == recent[0].energy_wh
    call_command("seed_demo_history", stdout=out)
    assert ChargeSession.objects.count() == len(sessions)
    assert "already present" in out.getvalue()
