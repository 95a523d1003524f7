"""The filter choices of a history: the chargers, drivers, cards and installations that occur in
sessions the user may see (so a driver who left still finds the installations they charged at,
and an owner finds a former member). Bounded lists; the search box finds the rest. Read from the
daily rollup for finished sessions when the page gives it (``reporting.rollup``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from chargers.models import ChargeSession
from portal.tenancy import assert_restricted
from reporting.models import DailyUsage

MAX_CHOICES = 500
# The lists change only when someone charges for the first time, and computing them scans the
# sessions the user may see (seconds across many sites): kept this long per visible set.
CACHE_SECONDS = 60
Choice = tuple[int, str]


def for_filters(
    sessions: QuerySet[ChargeSession],
    *,
    installations: bool,
    drivers: bool,
    usage: QuerySet[DailyUsage] | None = None,
) -> dict[str, list[Choice] | None]:
    """The filter lists of a report over ``sessions``, cached for ``CACHE_SECONDS``.

    ``usage``: the daily rollup rows of the same sessions (``reporting.rollup``); then the keys
    are read from it for the finished sessions and from the sessions for the others.
    The cache key is a digest of the restricted queries themselves (they name the user and the
    scope), so two users share an entry only when they would run the very same query."""
    assert_restricted(sessions)
    if usage is not None:
        assert_restricted(usage)
    source = Keys(sessions, usage)
    query = f"{_text(sessions)}|{_text(usage) if usage is not None else ''}"
    key = hashlib.sha256(f"{installations}|{drivers}|{query}".encode()).hexdigest()
    cache_key = f"reporting:choices:{key}"
    found = cache.get(cache_key)
    if found is None:
        found = {
            "installations": installations_of(source) if installations else None,
            "chargers": chargers(source),
            "drivers": drivers_of(source) if drivers else None,
            "cards": cards(source),
        }
        cache.set(cache_key, found, CACHE_SECONDS)
    return found


def _text(rows: QuerySet[Any]) -> str:
    """The SQL of ``rows`` (a cache key); one that selects nothing has none."""
    try:
        return str(rows.query)
    except EmptyResultSet:
        return "nothing"


# A key of a session as the rollup names it.
ROLLUP_KEYS = {
    "charger__installation_id": "installation_id",
    "charger_id": "charger_id",
    "user_id": "user_id",
    "card_id": "card_id",
}


@dataclass(frozen=True)
class Keys:
    """Where the distinct keys come from: the sessions, or the rollup for the finished ones and
    the sessions for the rest."""

    sessions: QuerySet[ChargeSession]
    usage: QuerySet[DailyUsage] | None = None

    def distinct(self, key: str) -> list[int]:
        if self.usage is None:
            return _distinct_keys(self.sessions, key)
        from reporting.rollup import UNFINISHED

        found = _distinct_keys(self.usage, ROLLUP_KEYS[key])
        if len(found) < MAX_CHOICES:
            found += _distinct_keys(self.sessions.filter(UNFINISHED), key)
        return list(dict.fromkeys(found))[:MAX_CHOICES]


def _distinct_keys(rows: QuerySet[Any], key: str) -> list[int]:
    """The distinct non-null values of ``key`` in ``rows``, at most ``MAX_CHOICES`` (one hash
    aggregate)."""
    assert_restricted(rows)
    return list(
        rows.exclude(**{f"{key}__isnull": True})
        .order_by()
        .values_list(key, flat=True)
        .distinct()[:MAX_CHOICES]
    )


def _distinct(sessions: Keys | QuerySet[ChargeSession], *fields: str) -> list[tuple]:  # type: ignore[type-arg]
    """``fields`` (a key, then its labels) of the distinct keys in ``sessions``, at most
    ``MAX_CHOICES``. Two steps: the distinct keys (one hash aggregate over the sessions or the
    rollup), then their labels by primary key. One query with DISTINCT over the joined labels and
    a LIMIT let PostgreSQL pick a nested loop over every user (67 s at a million sessions)."""
    source = sessions if isinstance(sessions, Keys) else Keys(sessions)
    key = fields[0]
    keys = source.distinct(key)
    if not keys:
        return []
    # The labels of exactly the keys found above (so nothing the gate did not allow), by pk.
    relation = key.removesuffix("_id")
    model: Any = ChargeSession
    for step in relation.split("__"):
        model = model._meta.get_field(step).related_model
    labels = [name.removeprefix(f"{relation}__") for name in fields[1:]]
    return list(model._base_manager.filter(pk__in=keys).values_list("pk", *labels))


def installations_of(sessions: Keys | QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger__installation_id", "charger__installation__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def chargers(sessions: Keys | QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger_id", "charger__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def drivers_of(sessions: Keys | QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "user_id", "user__name", "user__email")
    return sorted(
        ((pk, name or email) for pk, name, email in rows), key=lambda c: (c[1].lower(), c[0])
    )


def cards(sessions: Keys | QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "card_id", "card__name", "card__id_tag")
    return sorted(
        ((pk, f"{name} ({tag})" if name else tag) for pk, name, tag in rows),
        key=lambda c: (c[1].lower(), c[0]),
    )
