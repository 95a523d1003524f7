"""The audit log: who changed what, when and from where, kept per installation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from installations.models import Installation
from portal.tenancy import Action, TenantModel


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"


class AuditEntry(TenantModel):
    """One change made by a person (web page, API or admin): the object, its field changes
    (secrets shown only as changed), the actor and the address the request came from.

    Written by ``audit.recorder`` when a request is being served, never by the bridge or the
    workers (chargers and balancing change state all the time; that is what the events are for).
    Owners and installers of the installation read it; a change outside any installation (an API
    token) is read by the person who made it. Entries outlive what they describe."""

    # Kept when the installation goes (no database constraint): the log outlives what it names,
    # and the deletion of an installation's circuits and members is logged as it cascades.
    installation = models.ForeignKey(
        Installation,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    installation_name = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    via = models.CharField(max_length=40, help_text="web, admin, or api (token name)")
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True, help_text="field -> [before, after]")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["installation", "-at"], name="audit_installation_time")]

    def __str__(self) -> str:
        return (
            f"{self.actor_email or 'someone'} {self.action} {self.object_type} {self.object_repr}"
        )

    @classmethod
    def tenant_filter(cls, user: Any, action: Action) -> Q:
        """Owners and installers of the installation; one's own changes outside installations."""
        own = Q(installation__isnull=True, actor=user) if action == Action.VIEW else Q(pk__in=[])
        return super().tenant_filter(user, action) | own
