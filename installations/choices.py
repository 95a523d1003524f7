"""Choices of the installations app, and which role may do which action."""

from __future__ import annotations

from django.db import models

from portal.tenancy import Action


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    INSTALLER = "installer", "Installer"
    DRIVER = "driver", "Driver"


class AuthorizationMode(models.TextChoices):
    OPEN = "open", "Open: anyone may charge"
    LOCKED = "locked", "Locked: identification required"


class NetworkType(models.TextChoices):
    TN = "TN", "TN"
    TT = "TT", "TT"
    IT = "IT", "IT"


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset({Action.VIEW, Action.OPERATE, Action.ADMINISTER}),
    Role.INSTALLER: frozenset({Action.VIEW, Action.OPERATE, Action.ADMINISTER}),
    Role.DRIVER: frozenset(),  # drivers reach objects only through each model's driver_scope
}

# Roles a member may invite or manage: owners manage everyone, installers everyone but owners.
MANAGEABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset({Role.OWNER, Role.INSTALLER, Role.DRIVER}),
    Role.INSTALLER: frozenset({Role.INSTALLER, Role.DRIVER}),
    Role.DRIVER: frozenset(),
}


def roles_allowed(action: Action) -> list[str]:
    return sorted(role.value for role, actions in ROLE_ACTIONS.items() if action in actions)
