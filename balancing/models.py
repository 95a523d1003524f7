"""What the balancing loop decided, and why: one row per solve of an installation; and the
conditions it watches while they last (``WatchEpisode``, ``balancing.watch``)."""

from __future__ import annotations

from django.db import models

from portal.tenancy import TenantModel


class BalancingTrigger(models.TextChoices):
    EVENT = "event", "Event"
    SWEEP = "sweep", "Periodic sweep"
    MANUAL = "manual", "Manual"


class BalancingDecision(TenantModel):
    """A solve: the snapshot the engine saw, its answer, and how many limits were sent."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="balancing_decisions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    trigger = models.CharField(max_length=8, choices=BalancingTrigger.choices)
    reason = models.CharField(max_length=120, blank=True)
    scenario = models.JSONField()
    result = models.JSONField()
    solve_ms = models.FloatField()
    commands_sent = models.PositiveIntegerField(default=0)
    # Periodic sweeps that found the same answer and sent nothing are not stored again: they
    # move this instead (a sweep every 15 s would otherwise store 5,760 snapshots a day).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmations = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["installation", "-created_at"], name="decision_installation_time")
        ]

    def __str__(self) -> str:
        return f"Balancing of {self.installation_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def notes(self) -> list[str]:
        return list(self.result.get("notes", []))


class WatchKind(models.TextChoices):
    CAR_NOT_SERVED = "car_not_served", "Car not served"
    FUSE_OVERLOADED = "fuse_overloaded", "Fuse overloaded"


class WatchEpisode(models.Model):
    """A condition the loop watches (``balancing.watch``), while it lasts: a car that wants
    current and gets none (``subject_id``: the charger), a fuse drawing above its limit (the
    circuit). The row exists from the first solve that saw it to the first that did not;
    ``reported_at`` is when its event was written (the threshold had passed), so a worker that
    restarts neither repeats the event nor forgets to write the recovery."""

    installation = models.ForeignKey(
        "installations.Installation", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=WatchKind.choices)
    subject_id = models.BigIntegerField()
    started_at = models.DateTimeField()
    reported_at = models.DateTimeField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["installation_id", "kind", "subject_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject_id"], name="watch_episode_once")
        ]
        indexes = [models.Index(fields=["installation"], name="watch_episode_installation")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject_id} since {self.started_at:%H:%M:%S}"
