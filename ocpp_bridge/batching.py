"""Requests served in batches: while one batch runs, the requests made meanwhile gather for the
next. No delay when it is quiet (a lone request is a batch of one at once), one round trip for
many when it is not: the cost of a round trip, a thread hop and a statement's planning is paid
per batch instead of per request, so a burst drains in a few rounds instead of a queue of
hundreds.

Used for the lookups at the upgrade (``server.Admissions``) and for Authorize decisions
(``Decisions``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from auth_access.checks import Asked, Check

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batches(Generic[T, R]):
    """``ask(item)`` answers with its part of ``run(items)``, one batch at a time (two or three
    at a time measured no better for Authorize: the batches share the GIL with the loop)."""

    name = "batches"

    def __init__(
        self, *, max_batch: int, track: Callable[[asyncio.Task[None]], object] | None = None
    ) -> None:
        self.max_batch = max_batch
        self.track = track  # told of each worker task (the bridge's settle() and stop() wait)
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # for the stats line
        self.served = 0

    async def run(self, items: list[T]) -> Sequence[R | BaseException]:
        """The answers to ``items``, in their order (an exception fails that item only)."""
        raise NotImplementedError

    async def ask(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain(), name=f"bridge-{self.name}")
            if self.track is not None:
                self.track(self._worker)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    answers = await self.run([item for item, _ in batch])
                except Exception as error:  # these requests fail; the next batch may not
                    logger.exception("%s: a batch of %d failed", self.name, len(batch))
                    answers = [_failed(self.name, error) for _ in batch]
                except BaseException:  # cancelled (the bridge stops): so are these requests
                    for _, future in batch:
                        future.cancel()
                    raise
                self.batches += 1
                self.served += len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._worker = None

    def take_stats(self) -> str:
        text = f"{self.served} {self.name} in {self.batches} batches"
        self.batches = self.served = 0
        return text


class BatchFailed(RuntimeError):
    """The batch a request was in failed (the cause is chained); one per request, so no
    traceback grows with every request that re-raises it."""


def _failed(name: str, error: Exception) -> BatchFailed:
    failed = BatchFailed(f"{name}: the batch failed: {error!r}")
    failed.__cause__ = error
    return failed


Decide = Callable[[list[Asked]], Awaitable[Sequence[Check | BaseException]]]


class Decisions(Batches[Asked, Check]):
    """Authorize decisions (``auth_access.checks.begin_many``): the facts of a batch in one
    statement and its records in one write, on the chargers' database lane. Authorize needs no
    place in its charger's order of writes: its facts are the installation's, not the
    charger's own messages (StartTransaction, whose decision goes with the session it creates,
    keeps its place)."""

    name = "authorizations"

    def __init__(
        self,
        decide: Decide,
        *,
        max_batch: int = 200,
        track: Callable[[asyncio.Task[None]], object] | None = None,
    ) -> None:
        super().__init__(max_batch=max_batch, track=track)
        self.decide = decide

    async def run(self, items: list[Asked]) -> Sequence[Check | BaseException]:
        return await self.decide(items)
