"""Changes that alter who may charge where queue the chargers' list syncs and, where the
installation stops sessions on revocation, an enforcement pass (both after the commit).

- a card saved or deleted: the chargers of its holder's installations;
- a per-charger permission granted or revoked: that charger;
- a membership created, changed or removed: the installation's chargers;
- an installation's or a charger's authorization mode changed: those chargers, with their
  authorization settings (AllowOfflineTxForUnknownId follows the mode);
- a user account disabled or enabled: the chargers of their installations.

Every new installation gets its ``AccessPolicy``.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from auth_access.models import AccessPolicy, ChargeCard, ChargerPermission
from auth_access.tasks import request_enforcement, request_local_list_sync
from chargers.models import Charger
from installations.models import Installation, Membership


def _chargers_of_user(user_id: int) -> tuple[list[int], list[int]]:
    installations = list(
        Membership.objects.filter(user_id=user_id).values_list("installation_id", flat=True)
    )
    chargers = Charger.objects.filter(installation_id__in=installations)
    return list(chargers.values_list("pk", flat=True)), installations


def _installation_changed(installation_id: int, *, configure: bool = False) -> None:
    chargers = Charger.objects.filter(installation_id=installation_id).values_list("pk", flat=True)
    request_local_list_sync(chargers, configure=configure)
    request_enforcement([installation_id])


@receiver([post_save, post_delete], sender=ChargeCard, dispatch_uid="access-card")
def card_changed(sender: type, instance: ChargeCard, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    chargers, installations = _chargers_of_user(instance.user_id)
    request_local_list_sync(chargers)
    request_enforcement(installations)


@receiver([post_save, post_delete], sender=ChargerPermission, dispatch_uid="access-permission")
def permission_changed(sender: type, instance: ChargerPermission, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    request_local_list_sync([instance.charger_id])
    if not kwargs.get("created"):  # a revocation (the membership may be gone in a cascade)
        site = Charger.objects.filter(pk=instance.charger_id)
        request_enforcement(site.values_list("installation_id", flat=True))


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="access-membership")
def membership_changed(sender: type, instance: Membership, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    if Installation.objects.filter(pk=instance.installation_id).exists():  # not a cascade
        _installation_changed(instance.installation_id)


# --- mode and account changes: compare with the row before the save --------------------------


def _previous(sender: type, instance: Any, field: str, kwargs: dict[str, Any]) -> None:
    update_fields = kwargs.get("update_fields")
    if kwargs.get("raw") or instance.pk is None:
        return
    if update_fields is not None and field not in update_fields:
        return
    before = sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()
    instance._access_before = (field, before)


def _changed(instance: Any) -> bool:
    field, before = getattr(instance, "_access_before", (None, None))
    if field is None:
        return False
    del instance._access_before
    return getattr(instance, field) != before


@receiver(pre_save, sender=Installation, dispatch_uid="access-installation-before")
def installation_before(sender: type, instance: Installation, **kwargs: Any) -> None:
    _previous(sender, instance, "authorization_mode", kwargs)


@receiver(post_save, sender=Installation, dispatch_uid="access-installation")
def installation_saved(sender: type, instance: Installation, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    if kwargs.get("created"):
        AccessPolicy.objects.get_or_create(installation=instance)
    elif _changed(instance):
        _installation_changed(instance.pk, configure=True)


@receiver(pre_save, sender=Charger, dispatch_uid="access-charger-before")
def charger_before(sender: type, instance: Charger, **kwargs: Any) -> None:
    _previous(sender, instance, "authorization_mode", kwargs)


@receiver(post_save, sender=Charger, dispatch_uid="access-charger")
def charger_saved(sender: type, instance: Charger, **kwargs: Any) -> None:
    if not kwargs.get("raw") and _changed(instance):
        request_local_list_sync([instance.pk], configure=True)
        request_enforcement([instance.installation_id])


@receiver(pre_save, sender=User, dispatch_uid="access-user-before")
def user_before(sender: type, instance: User, **kwargs: Any) -> None:
    _previous(sender, instance, "is_active", kwargs)


@receiver(post_save, sender=User, dispatch_uid="access-user")
def user_saved(sender: type, instance: User, **kwargs: Any) -> None:
    if not kwargs.get("raw") and _changed(instance):
        chargers, installations = _chargers_of_user(instance.pk)
        request_local_list_sync(chargers)
        request_enforcement(installations)
