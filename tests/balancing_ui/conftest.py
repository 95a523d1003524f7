"""Helpers of the Load tab tests: live charger states in Redis, decisions, and the browser
fixtures of tests/web (re-exported so the browser test here shares their setup)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest
from django.utils import timezone

from balancing.models import BalancingDecision, BalancingTrigger
from chargers.choices import ConnectorStatus
from chargers.models import Charger
from commands import routing
from installations.models import Installation
from portal.redis import get_redis
from tests.web.conftest import browser, client_as, live_static, page, phone  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def set_live(
    charger: Charger,
    currents: Sequence[float] = (0.0, 0.0, 0.0),
    *,
    car: bool = True,
    power_w: float | None = None,
) -> None:
    """The charger is online (a bridge holds it) and draws ``currents`` on its own phases 1-3."""
    status = ConnectorStatus.CHARGING if car else ConnectorStatus.AVAILABLE
    charger.connectors.filter(connector_id=1).update(status=status)
    Charger.objects.filter(pk=charger.pk).update(is_online=True)
    redis = get_redis()
    redis.set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), "node-test", ex=60)
    mapping: dict[str, str | float] = {
        "online": "1",
        "current_l1": currents[0],
        "current_l2": currents[1],
        "current_l3": currents[2],
    }
    if power_w is not None:
        mapping["power_w"] = power_w
    redis.hset(routing.LIVE_KEY.format(charger_id=charger.pk), mapping=mapping)


def set_offline_with_car(charger: Charger) -> None:
    charger.connectors.filter(connector_id=1).update(status=ConnectorStatus.CHARGING)
    Charger.objects.filter(pk=charger.pk).update(is_online=False)
    get_redis().delete(routing.LIVE_KEY.format(charger_id=charger.pk))


def give_limit(charger: Charger, current_a: float, phases: int = 3) -> None:
    """As if balancing had just sent this limit (and the charger accepted it)."""
    fields: dict[str, object] = {"allocated_current_a": current_a, "allocated_phases": phases}
    if any(field.name == "limit_sent_at" for field in Charger._meta.get_fields()):
        fields["limit_sent_at"] = timezone.now()  # a limit expires unless renewed
    Charger.objects.filter(pk=charger.pk).update(**fields)


def record_decision(
    installation: Installation,
    *,
    notes: Sequence[str] = (),
    paused: Sequence[str] = (),
    finished: Sequence[str] = (),
    commands_sent: int = 0,
    trigger: BalancingTrigger = BalancingTrigger.SWEEP,
    reason: str = "",
    at: datetime | None = None,
) -> BalancingDecision:
    decision = BalancingDecision.objects.create(
        installation=installation,
        trigger=trigger,
        reason=reason,
        scenario={"now": timezone.now().isoformat()},
        result={
            "allocations": [],
            "paused": list(paused),
            "finished": list(finished),
            "notes": list(notes),
        },
        solve_ms=1.25,
        commands_sent=commands_sent,
    )
    if at is not None:
        BalancingDecision.objects.filter(pk=decision.pk).update(created_at=at)
        decision.refresh_from_db()
    return decision
