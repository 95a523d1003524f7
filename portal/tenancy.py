"""The one tenancy gate: ``Model.objects.restrict(user, action)``.

Every query that serves a user goes through ``TenantQuerySet.restrict``; the API's base viewset and
the web views' base mixin call it, and refuse to serve a queryset that was not restricted (see
``assert_restricted``), so a forgotten scope is an error, never a leak.

Rules (``installations.choices.ROLE_ACTIONS``): an owner or installer may do everything on the
installations they are a member of; a driver may view their installation and the chargers they may
charge on, and their own data; superusers may reach everything except what is a person's own
(a model with ``personal = True``: API tokens, export jobs, alert subscriptions), which stays
its owner's. Models say how they reach their
installation (``tenancy_path``) and may refine the rule for drivers (``driver_scope``). A request
made with a limited API token (read-only, some installations) is limited here too
(``user.token_scope``, see ``accounts.api_tokens``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Action(StrEnum):
    """What a user wants to do with an object."""

    VIEW = "view"  # read it
    OPERATE = "operate"  # send commands to chargers, start/stop charging for others
    ADMINISTER = "administer"  # create, change or delete it


class UnscopedQueryError(RuntimeError):
    """A queryset reached a user without passing through ``restrict()``."""


class TenantQuerySet(models.QuerySet):
    """A queryset that knows whether it has been scoped to a user, and carries that through clones."""

    _restricted_for: tuple[int | None, Action] | None = None

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._restricted_for = self._restricted_for
        return clone

    def restrict(
        self, user: AbstractBaseUser | AnonymousUser, action: Action = Action.VIEW
    ) -> Self:
        """Only the objects ``user`` may ``action``."""
        action = Action(action)
        if not user.is_authenticated or not user.is_active:
            scoped = self.none()
        elif user.is_superuser and not getattr(self.model, "personal", False):
            scoped = self.all()
        else:
            scoped = self.filter(self.model.tenant_filter(user, action))
        scope = getattr(user, "token_scope", None)  # an API token's limits (accounts.api_tokens)
        if scope is not None:
            scoped = scoped._within_token(scope, action)
        scoped._restricted_for = (user.pk, action)
        return scoped

    def _within_token(self, scope: Any, action: Action) -> Self:
        """What a request authenticated by a limited API token may reach: nothing to change
        with a read-only token, only its installations with one limited to some."""
        if scope.read_only and action != Action.VIEW:
            return self.none()
        token_filter = getattr(self.model, "token_filter", None)  # a model of no installation
        if token_filter is not None:
            return self.filter(token_filter(scope))
        lookup = getattr(self.model, "installation_lookup", None)
        if scope.installation_ids is None or lookup is None:
            return self
        id_lookup = lookup("id") if self.model.tenancy_path else "id"
        return self.filter(**{f"{id_lookup}__in": scope.installation_ids})

    @property
    def is_restricted(self) -> bool:
        return self._restricted_for is not None


def assert_restricted(queryset: Any) -> None:
    """Raise unless ``queryset`` went through ``restrict()``; used by the base views."""
    if not getattr(queryset, "is_restricted", False):
        model = getattr(queryset, "model", None)
        raise UnscopedQueryError(
            f"{model.__name__ if model else queryset!r} queryset was not restricted"
        )


class TenantModel(models.Model):
    """Base for every model that belongs to an installation.

    ``tenancy_path`` is the lookup from the model to its Installation ("" for Installation itself).
    """

    tenancy_path: str = "installation"

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def installation_lookup(cls, suffix: str) -> str:
        return f"{cls.tenancy_path}__{suffix}" if cls.tenancy_path else suffix

    @classmethod
    def tenant_filter(cls, user: AbstractBaseUser, action: Action) -> Q:
        """The Q that selects what ``user`` may ``action``: membership roles, then driver rights."""
        from installations.choices import roles_allowed
        from installations.models import Membership

        roles = roles_allowed(action)
        installations = Membership.objects.filter(user=user, role__in=roles).values(
            "installation_id"
        )
        id_lookup = cls.installation_lookup("id") if cls.tenancy_path else "id"
        by_role = Q(**{f"{id_lookup}__in": installations})
        driver = cls.driver_scope(user, action)
        return by_role | driver if driver is not None else by_role

    @classmethod
    def driver_scope(cls, user: AbstractBaseUser, action: Action) -> Q | None:
        """Extra objects a driver may reach (beyond role rights). None: nothing more."""
        return None
