"""Events: one durable record of what happened (the outbox), read by many consumers.

``events.emit(type, ...)`` writes an event in the caller's transaction; ``docs/events.md`` is
the catalogue and the consumers' contract.
"""

from __future__ import annotations

from typing import Any


def emit(*args: Any, **kwargs: Any) -> Any:
    """``events.services.emit`` (imported late: this package loads before the app registry)."""
    from events.services import emit as _emit

    return _emit(*args, **kwargs)
