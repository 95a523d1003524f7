"""Watching the loop's results for two conditions worth an event (docs/events.md):

- **A car not served**: connected to an online charger, not finished, and given less than the
  charger's minimum current (paused by balancing, 0 A) for ``BALANCING_NOT_SERVED_MINUTES``:
  ``balancing.car_not_served`` once per episode, ``balancing.car_served`` when it gets current
  again or no longer waits (left, finished, charger offline or gone).
- **A fuse overloaded**: its measured draw (base load plus the chargers' measured currents, per
  phase, the Load tab's figures) above its limit for ``BALANCING_OVERLOAD_DEBOUNCE_S``:
  ``fuse.overloaded`` once per episode, ``fuse.recovered`` when it is back within its limit.

``observe`` runs after every solve (``service.balance``), under the installation's balancing
lock, with the snapshot and the answer the solve already has. The episodes are ``WatchEpisode``
rows: one SELECT per solve, writes only when a condition starts, passes its threshold or ends,
in one transaction with the events (a worker that restarts neither repeats an event nor misses
a recovery). A condition is seen at the loop's pace (every solve, at least every
``BALANCING_SWEEP_SECONDS`` while a charger of the installation is online), so an episode
counts from the first solve that saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from balancing.dashboard.compose import measured_fuse_loads
from balancing.models import WatchEpisode, WatchKind
from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from events.choices import EventType
from events.services import Draft, emit_many
from installations.models import Installation

OVERLOAD_MARGIN_A = 0.05  # draws are shown to 0.1 A: within half a step of the limit is at it


@dataclass(frozen=True)
class Condition:
    """A condition seen in this solve: what it is about and the figures its events carry."""

    kind: WatchKind
    subject_id: int
    detail: dict[str, Any]


def observe(
    installation: Installation,
    scenario: Mapping[str, Any],
    result: Mapping[str, Any],
    chargers: Mapping[str, Charger],
    now: datetime | None = None,
) -> list[Draft]:
    """Compare this solve with the open episodes; write the episodes' changes and their events
    in one transaction. Returns the events written (as drafts)."""
    now = now or timezone.now()
    draws = fuse_draws(installation, scenario, chargers)
    seen = cars_not_served(scenario, result, chargers) + overloaded_fuses(draws)
    with transaction.atomic():
        episodes = {
            (episode.kind, episode.subject_id): episode
            for episode in WatchEpisode.objects.select_for_update().filter(
                installation=installation
            )
        }
        drafts = _step(installation, episodes, seen, scenario, chargers, draws, now)
        if drafts:
            emit_many(drafts)
    return drafts


def cars_not_served(
    scenario: Mapping[str, Any], result: Mapping[str, Any], chargers: Mapping[str, Charger]
) -> list[Condition]:
    """Online chargers with a car that wants current and was given less than their minimum."""
    allocated = {item["id"]: float(item["current"]) for item in result.get("allocations", [])}
    finished = set(result.get("finished") or [])
    found = []
    for entry in scenario["chargers"]:
        charger = chargers.get(entry["id"])
        if charger is None or not entry["online"] or not entry["car_connected"]:
            continue
        if entry.get("car_finished") or entry["id"] in finished:
            continue
        if allocated.get(entry["id"], 0.0) < float(entry["min_current"]):
            found.append(
                Condition(
                    WatchKind.CAR_NOT_SERVED,
                    charger.pk,
                    {"min_current_a": float(entry["min_current"])},
                )
            )
    return found


def fuse_draws(
    installation: Installation, scenario: Mapping[str, Any], chargers: Mapping[str, Charger]
) -> dict[int, tuple[list[float], list[float]]]:
    """Each fuse's measured draw and limit per phase (the installation's phases), by circuit."""
    withheld = [
        chargers[entry["id"]].pk
        for entry in scenario["chargers"]
        if entry.get("measured") is None and entry["id"] in chargers
    ]
    states = routing.live_states(withheld) if withheld else {}
    by_pk = {charger.pk: identity for identity, charger in chargers.items()}
    loads = measured_fuse_loads(
        scenario, {by_pk[pk]: state for pk, state in states.items() if pk in by_pk}
    )
    phase_count = 1 if installation.phases == 1 else 3
    return {
        int(fuse["id"].removeprefix("circuit-")): (
            [round(value, 1) for value in loads[fuse["id"]][:phase_count]],
            [float(value) for value in fuse["limit"][:phase_count]],
        )
        for fuse in scenario["fuses"]
    }


def overloaded_fuses(draws: Mapping[int, tuple[list[float], list[float]]]) -> list[Condition]:
    """Fuses whose measured draw is above their limit on some phase, with the figures."""
    return [
        Condition(WatchKind.FUSE_OVERLOADED, circuit_id, {"draw_a": draw, "limit_a": limit})
        for circuit_id, (draw, limit) in draws.items()
        if any(d > lim + OVERLOAD_MARGIN_A for d, lim in zip(draw, limit, strict=True))
    ]


def _step(
    installation: Installation,
    episodes: dict[tuple[str, int], WatchEpisode],
    seen: list[Condition],
    scenario: Mapping[str, Any],
    chargers: Mapping[str, Charger],
    draws: Mapping[int, tuple[list[float], list[float]]],
    now: datetime,
) -> list[Draft]:
    thresholds = {
        WatchKind.CAR_NOT_SERVED: timedelta(minutes=settings.BALANCING_NOT_SERVED_MINUTES),
        WatchKind.FUSE_OVERLOADED: timedelta(seconds=settings.BALANCING_OVERLOAD_DEBOUNCE_S),
    }
    drafts: list[Draft] = []
    names: dict[int, str] | None = None
    current = {(str(condition.kind), condition.subject_id): condition for condition in seen}

    def circuit_name(circuit_id: int) -> str:
        nonlocal names
        if names is None:
            names = dict(installation.circuits.values_list("id", "name"))
        return names.get(circuit_id, "")

    new = [
        WatchEpisode(
            installation=installation,
            kind=condition.kind,
            subject_id=condition.subject_id,
            started_at=now,
            detail=condition.detail,
        )
        for key, condition in current.items()
        if key not in episodes
    ]
    if new:
        WatchEpisode.objects.bulk_create(new)
        for episode in new:
            episodes[(str(episode.kind), episode.subject_id)] = episode
    reported = []
    for key, episode in episodes.items():
        condition = current.get(key)
        if condition is None or episode.reported_at is not None:
            continue
        if now - episode.started_at < thresholds[WatchKind(episode.kind)]:
            continue
        episode.reported_at, episode.detail = now, condition.detail
        reported.append(episode)
        if episode.kind == WatchKind.CAR_NOT_SERVED:
            drafts.append(_not_served(episode, thresholds[WatchKind.CAR_NOT_SERVED]))
        else:
            drafts.append(_overloaded(episode, circuit_name(episode.subject_id), installation))
    if reported:
        WatchEpisode.objects.bulk_update(reported, ["reported_at", "detail"])
    ended = [episode for key, episode in episodes.items() if key not in current]
    for episode in ended:
        if episode.reported_at is None:
            continue
        if episode.kind == WatchKind.CAR_NOT_SERVED:
            drafts.append(_served(episode, scenario, chargers, now))
        else:
            name = circuit_name(episode.subject_id)
            drafts.append(_recovered(episode, name, draws.get(episode.subject_id), now))
    if ended:
        WatchEpisode.objects.filter(pk__in=[episode.pk for episode in ended]).delete()
    return drafts


def _session_id(charger_id: int) -> int | None:
    return (
        ChargeSession.objects.filter(charger_id=charger_id, status=SessionStatus.ACTIVE)
        .order_by("-started_at")
        .values_list("pk", flat=True)
        .first()
    )


def _not_served(episode: WatchEpisode, threshold: timedelta) -> Draft:
    session_id = _session_id(episode.subject_id)
    episode.detail = {**episode.detail, "session_id": session_id}
    return Draft(
        EventType.CAR_NOT_SERVED,
        charger_id=episode.subject_id,
        occurred_at=episode.reported_at,
        session_id=session_id,
        payload={
            "session_id": session_id,
            "since": episode.started_at.isoformat(),
            "threshold_seconds": round(threshold.total_seconds()),
            "min_current_a": episode.detail.get("min_current_a"),
        },
    )


def _served(
    episode: WatchEpisode,
    scenario: Mapping[str, Any],
    chargers: Mapping[str, Charger],
    now: datetime,
) -> Draft:
    """Why the car no longer waits: it gets current, its car left or finished, the charger
    went offline (or is gone)."""
    entry = next(
        (
            entry
            for entry in scenario["chargers"]
            if entry["id"] in chargers and chargers[entry["id"]].pk == episode.subject_id
        ),
        None,
    )
    if entry is None:
        outcome = "gone"
    elif not entry["online"]:
        outcome = "offline"
    elif not entry["car_connected"]:
        outcome = "left"
    elif entry.get("car_finished"):
        outcome = "finished"
    else:
        outcome = "served"
    session_id = episode.detail.get("session_id")
    return Draft(
        EventType.CAR_SERVED,
        charger_id=episode.subject_id if entry is not None else None,
        installation_id=episode.installation_id,
        occurred_at=now,
        session_id=session_id,
        payload={
            "session_id": session_id,
            "not_served_seconds": round((now - episode.started_at).total_seconds()),
            "outcome": outcome,
        },
    )


def _overloaded(episode: WatchEpisode, name: str, installation: Installation) -> Draft:
    return Draft(
        EventType.FUSE_OVERLOADED,
        installation_id=installation.pk,
        occurred_at=episode.reported_at,
        payload={
            "circuit_id": episode.subject_id,
            "name": name,
            "draw_a": episode.detail["draw_a"],
            "limit_a": episode.detail["limit_a"],
            "since": episode.started_at.isoformat(),
        },
    )


def _recovered(
    episode: WatchEpisode,
    name: str,
    figures: tuple[list[float], list[float]] | None,
    now: datetime,
) -> Draft:
    """The fuse's figures now (back within its limit), or the last ones seen over it when the
    fuse is no longer in the snapshot (deleted)."""
    draw, limit = figures or (episode.detail["draw_a"], episode.detail["limit_a"])
    return Draft(
        EventType.FUSE_RECOVERED,
        installation_id=episode.installation_id,
        occurred_at=now,
        payload={
            "circuit_id": episode.subject_id,
            "name": name,
            "draw_a": draw,
            "limit_a": limit,
            "overloaded_seconds": round((now - episode.started_at).total_seconds()),
        },
    )
