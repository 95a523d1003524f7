"""The filter choices of a history: the chargers, drivers, cards and installations that occur in
sessions the user may see (so a driver who left still finds the installations they charged at,
and an owner finds a former member). Bounded lists; the search box finds the rest."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from chargers.models import ChargeSession
from portal.tenancy import assert_restricted

MAX_CHOICES = 500
# The lists change only when someone charges for the first time, and computing them scans the
# sessions the user may see (seconds across many sites): kept this long per visible set.
CACHE_SECONDS = 60
Choice = tuple[int, str]


def for_filters(
    sessions: QuerySet[ChargeSession], *, installations: bool, drivers: bool
) -> dict[str, list[Choice] | None]:
    """The filter lists of a report over ``sessions``, cached for ``CACHE_SECONDS``.

    The cache key is a digest of the restricted query itself (it names the user and the scope),
    so two users share an entry only when they would run the very same query."""
    assert_restricted(sessions)
    key = hashlib.sha256(f"{installations}|{drivers}|{sessions.query}".encode()).hexdigest()
    cache_key = f"reporting:choices:{key}"
    found = cache.get(cache_key)
    if found is None:
        found = {
            "installations": installations_of(sessions) if installations else None,
            "chargers": chargers(sessions),
            "drivers": drivers_of(sessions) if drivers else None,
            "cards": cards(sessions),
        }
        cache.set(cache_key, found, CACHE_SECONDS)
    return found


def _distinct(sessions: QuerySet[ChargeSession], *fields: str) -> list[tuple]:  # type: ignore[type-arg]
    """``fields`` (a key, then its labels) of the distinct keys in ``sessions``, at most
    ``MAX_CHOICES``. Two steps: the distinct keys (one hash aggregate over the sessions), then
    their labels by primary key. One query with DISTINCT over the joined labels and a LIMIT let
    PostgreSQL pick a nested loop over every user (67 s at a million sessions)."""
    assert_restricted(sessions)
    key = fields[0]
    keys = list(
        sessions.exclude(**{f"{key}__isnull": True})
        .order_by()
        .values_list(key, flat=True)
        .distinct()[:MAX_CHOICES]
    )
    if not keys:
        return []
    # The labels of exactly the keys found above (so nothing the gate did not allow), by pk.
    relation = key.removesuffix("_id")
    model: Any = ChargeSession
    for step in relation.split("__"):
        model = model._meta.get_field(step).related_model
    labels = [name.removeprefix(f"{relation}__") for name in fields[1:]]
    return list(model._base_manager.filter(pk__in=keys).values_list("pk", *labels))


def installations_of(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger__installation_id", "charger__installation__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def chargers(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger_id", "charger__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def drivers_of(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "user_id", "user__name", "user__email")
    return sorted(
        ((pk, name or email) for pk, name, email in rows), key=lambda c: (c[1].lower(), c[0])
    )


def cards(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "card_id", "card__name", "card__id_tag")
    return sorted(
        ((pk, f"{name} ({tag})" if name else tag) for pk, name, tag in rows),
        key=lambda c: (c[1].lower(), c[0]),
    )
