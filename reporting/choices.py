"""The filter choices of a history: the chargers, drivers, cards and installations that occur in
sessions the user may see (so a driver who left still finds the installations they charged at,
and an owner finds a former member). Bounded lists; the search box finds the rest."""

from __future__ import annotations

from django.db.models import QuerySet

from chargers.models import ChargeSession
from portal.tenancy import assert_restricted

MAX_CHOICES = 500
Choice = tuple[int, str]


def _distinct(sessions: QuerySet[ChargeSession], *fields: str) -> list[tuple]:  # type: ignore[type-arg]
    assert_restricted(sessions)
    return list(
        sessions.exclude(**{f"{fields[0]}__isnull": True})
        .order_by()
        .values_list(*fields)
        .distinct()[:MAX_CHOICES]
    )


def installations(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger__installation_id", "charger__installation__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def chargers(sessions: QuerySet[ChargeSession]) -> list[Choice]:
    rows = _distinct(sessions, "charger_id", "charger__name")
    return sorted(((pk, name) for pk, name in rows), key=lambda c: (c[1].lower(), c[0]))


def drivers(sessions: QuerySet[ChargeSession]) -> list[Choice]:
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
