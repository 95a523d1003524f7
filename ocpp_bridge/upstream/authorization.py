"""Who decides on a card at a bridged charger (``UpstreamSettings.authorization``,
docs/upstream.md "Authorization modes").

- **Fusebox decides**: today's decision; upstream is not asked (it sees the idTag in the
  StartTransaction it receives, and answers that as it likes: the charger is not told).
- **Upstream decides**: the charger's Authorize goes to upstream and its idTagInfo is the
  answer, recorded as an external authorizer's decision (``DecisionSource.EXTERNAL``, reason
  "upstream central system: <status>").
- **Both must accept**: Fusebox's decision first; a card Fusebox refuses is refused without
  asking upstream; one it accepts takes upstream's answer.
- Upstream unreachable (or no answer within ``link.AUTHORIZE_TIMEOUT_S``):
  ``offline_authorization`` says: accept the cards Fusebox knows and accepts, or refuse every
  card (recorded as ``DecisionSource.FALLBACK``).

A card upstream accepted (its Authorize, or its RemoteStartTransaction: ``Link
.note_remote_start``) is accepted at the StartTransaction that follows, whatever Fusebox knows
of it. Fusebox's own remote starts (virtual idTags from the portal) stay Fusebox's decision.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auth_access import checks
from auth_access.choices import AuthorizationStatus, DecisionSource
from auth_access.decisions import Decision
from ocpp_bridge import persistence
from upstream.choices import OfflineAuthorization, UpstreamAuthorization

if TYPE_CHECKING:
    from ocpp_bridge.handlers import BridgeChargePoint

UPSTREAM = "upstream central system"


def decides(charge_point: BridgeChargePoint) -> bool:
    """Whether upstream takes part in this charger's authorizations."""
    settings = charge_point.upstream_settings
    return settings is not None and settings.authorization != UpstreamAuthorization.FUSEBOX


async def authorize(charge_point: BridgeChargePoint, id_tag: str) -> Decision:
    """The decision on a charger's Authorize when upstream decides or both must (recorded)."""
    settings = charge_point.upstream_settings
    assert settings is not None
    check = await charge_point.bridge.db(
        persistence.begin_for_upstream, charge_point.charger.pk, id_tag
    )
    local = check.local
    if check.virtual or (
        settings.authorization == UpstreamAuthorization.BOTH and not local.accepted
    ):
        decision, source = local, check.source
    else:
        link = charge_point.upstream
        info = await link.authorize(id_tag) if link is not None else None
        decision, source = _decision(settings, local, info)
    outcome = checks.Outcome(check, decision, source, (time.perf_counter() - check.started) * 1000)
    await charge_point._write_behind(checks.record_on_thread, outcome)
    return decision


def _decision(
    settings: Any, local: Decision, info: dict[str, Any] | None
) -> tuple[Decision, DecisionSource]:
    ids = {"user_id": local.user_id, "card_id": local.card_id}
    if info is None:
        if settings.offline_authorization == OfflineAuthorization.REFUSE:
            refused = Decision(
                AuthorizationStatus.INVALID, f"{UPSTREAM} unreachable: refused", **ids
            )
            return refused, DecisionSource.FALLBACK
        if local.accepted and local.card_id is None and local.user_id is None:
            unknown = f"{UPSTREAM} unreachable: card unknown to Fusebox"
            return Decision(AuthorizationStatus.INVALID, unknown, **ids), DecisionSource.FALLBACK
        reason = f"{UPSTREAM} unreachable: {local.reason}"
        return replace(local, reason=reason[:200]), DecisionSource.FALLBACK
    try:
        status = AuthorizationStatus(info.get("status"))
    except ValueError:
        status = AuthorizationStatus.INVALID
    expires_at = None
    if isinstance(info.get("expiryDate"), str):
        try:
            expires_at = datetime.fromisoformat(info["expiryDate"].replace("Z", "+00:00"))
        except ValueError:
            expires_at = None
    decision = Decision(status, f"{UPSTREAM}: {status.value}", expires_at=expires_at, **ids)
    return decision, DecisionSource.EXTERNAL


def at_start(charge_point: BridgeChargePoint, id_tag: str, local: Decision) -> Decision:
    """The StartTransaction's idTagInfo: upstream's lately given acceptance of the card (its
    Authorize or remote start) stands when upstream decides; otherwise Fusebox's decision."""
    settings = charge_point.upstream_settings
    link = charge_point.upstream
    if settings is None or link is None or not decides(charge_point) or not link.vouched(id_tag):
        return local
    if settings.authorization == UpstreamAuthorization.BOTH and not local.accepted:
        return local
    if local.accepted:
        return local
    return Decision(
        AuthorizationStatus.ACCEPTED,
        f"{UPSTREAM}: Accepted",
        user_id=local.user_id,
        card_id=local.card_id,
    )
