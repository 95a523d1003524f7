"""Access decisions for the bridge: batched Authorize, and the access set-up after a boot."""

from __future__ import annotations

import logging

from django.db import close_old_connections

from auth_access import checks
from auth_access.choices import AuthorizationTrigger
from chargers.models import Charger

logger = logging.getLogger(__name__)


def authorize_id_tags(asked: list[checks.Asked]) -> list[checks.Check | BaseException]:
    """THE authorization decision (``auth_access.decisions``) on fresh data for each Authorize
    of a batch, recorded; or, where an external authorizer decides, the request to make
    (``checks.conclude()``). A failure stays with its own request: a charger deleted before
    the facts are read fails its request; when the batch fails as a whole (a charger deleted
    before its record is written, a value the database refuses) each request is decided again
    alone, and only those that fail alone fail."""
    close_old_connections()
    try:
        found = checks.begin_many(asked)
    except Exception:
        if len(asked) == 1:
            raise
        logger.warning("A batch of %d Authorize failed; deciding each alone", len(asked))
        return [_authorize_alone(one) for one in asked]
    return [
        _no_charger(one) if check is None else check
        for one, check in zip(asked, found, strict=True)
    ]


def _authorize_alone(asked: checks.Asked) -> checks.Check | BaseException:
    try:
        (check,) = checks.begin_many([asked])
    except Exception as error:
        return error
    return _no_charger(asked) if check is None else check


def _no_charger(asked: checks.Asked) -> BaseException:
    return Charger.DoesNotExist(f"No charger {asked.charger_id}")


def begin_for_upstream(charger_id: int, id_tag: str) -> checks.Check:
    """Fusebox's own decision on an Authorize at a charger whose upstream central system decides
    too (docs/upstream.md, authorization modes), not recorded yet: the final decision is
    recorded once known (``checks.record_on_thread``)."""
    close_old_connections()
    asked = checks.Asked(charger_id, id_tag, AuthorizationTrigger.AUTHORIZE)
    (check,) = checks.begin_many([asked], record=False)
    if check is None:
        raise _no_charger(asked)
    return check


def boot_access_hooks(charger_id: int) -> None:
    """After a BootNotification: queue the charger's access set-up (authorization cache and
    Local Authorization List, ``auth_access.tasks``); a Celery task, so no command waits here."""
    from auth_access.tasks import request_local_list_sync

    request_local_list_sync([charger_id], configure=True)
