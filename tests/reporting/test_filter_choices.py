"""The filter lists of a report: what occurs in the sessions the user may see, cached per query."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from chargers.models import ChargeSession
from portal.tenancy import Action
from reporting import choices
from tests.conftest import World
from tests.reporting.conftest import make_session

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _lists(user, **scope):  # type: ignore[no-untyped-def]
    sessions = ChargeSession.objects.restrict(user, Action.VIEW).filter(**scope)
    return choices.for_filters(sessions, installations=True, drivers=True)


def test_each_user_gets_the_lists_of_their_own_sessions_even_when_cached(world: World) -> None:
    make_session(world.charger_a1, T0, user=world.dora)
    make_session(world.charger_b1, T0, user=world.oscar)
    alice = _lists(world.alice)
    oscar = _lists(world.oscar)
    assert alice["chargers"] == [(world.charger_a1.pk, "A1")]
    assert alice["drivers"] == [(world.dora.pk, "Dora Driver")]
    assert alice["installations"] == [(world.site_a.pk, "Harbour car park")]
    assert oscar["chargers"] == [(world.charger_b1.pk, "B1")]
    assert oscar["drivers"] == [(world.oscar.pk, "Oscar Outsider")]
    # Served from the cache now, and still each their own.
    assert _lists(world.alice) == alice
    assert _lists(world.oscar) == oscar
    assert _lists(world.dora)["drivers"] == [(world.dora.pk, "Dora Driver")]


def test_the_lists_are_kept_a_minute_and_follow_new_drivers_after(world: World) -> None:
    make_session(world.charger_a1, T0, user=world.dora)
    assert _lists(world.alice)["drivers"] == [(world.dora.pk, "Dora Driver")]
    make_session(world.charger_a2, T0, user=world.dave)
    assert _lists(world.alice)["drivers"] == [(world.dora.pk, "Dora Driver")]  # cached
    cache.clear()  # as after CACHE_SECONDS
    assert sorted(_lists(world.alice)["drivers"]) == sorted(
        [(world.dora.pk, "Dora Driver"), (world.dave.pk, "Dave Driver")]
    )
    assert choices.CACHE_SECONDS == 60


def test_a_narrower_scope_is_its_own_entry(world: World) -> None:
    make_session(world.charger_a1, T0, user=world.dora)
    make_session(world.charger_a2, T0, user=world.dave)
    whole = _lists(world.alice)
    one = _lists(world.alice, charger=world.charger_a1)
    assert len(whole["chargers"]) == 2
    assert one["chargers"] == [(world.charger_a1.pk, "A1")]
