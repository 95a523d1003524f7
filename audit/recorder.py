"""Record the changes people make: a pre_save / post_save / post_delete handler on the models
below, active only while a request is served (``audit.context``), so every way in (web pages,
the API, the admin) is covered by one mechanism and the bridge and workers write nothing here.

For each audited model: how to reach its installation and the fields never worth a line (live
values an energy manager posts every few seconds). Fields people cannot edit (what the system or
a charger sets) are left out too, except secrets, whose values are never written: only that they
changed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from audit.context import actor_of, client_address, current_request, installations_going

logger = logging.getLogger(__name__)

SECRET = "(secret changed)"
SECRET_WORDS = ("password", "secret", "hash", "key")


@dataclass(frozen=True)
class Audited:
    label: str  # app_label.ModelName
    installation: str  # attribute path to the installation id ("" for Installation)
    ignore: frozenset[str] = field(default_factory=frozenset)


AUDITED = [
    Audited(
        "installations.Installation",
        "pk",
        frozenset({"available_current_a", "available_current_valid_until"}),
    ),
    Audited("installations.Circuit", "installation_id"),
    Audited("installations.Membership", "installation_id"),
    Audited("installations.Invitation", "installation_id", frozenset({"token"})),
    Audited("chargers.Charger", "installation_id"),
    Audited("auth_access.AccessPolicy", "installation_id"),
    Audited("auth_access.ChargerPermission", "membership.installation_id"),
    Audited("auth_access.ChargeCard", "installation_id", frozenset({"last_used_at"})),
    Audited("commands.Command", "charger.installation_id"),
    Audited("reporting.PricePeriod", "installation_id"),
    Audited("webhooks.Endpoint", "installation_id"),
    Audited("upstream.UpstreamSettings", "installation_id"),
    Audited("accounts.ApiToken", "", frozenset({"last_used_at"})),
]
# Commands change state as the charger answers; only their creation is a person's doing.
CREATION_ONLY = {"commands.Command"}


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, str | int | float | bool | list | dict) or value is None:
        return value
    return str(value)


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def _fields(instance: models.Model, spec: Audited) -> dict[str, Any]:
    values = {}
    for model_field in instance._meta.concrete_fields:
        name = model_field.attname
        if name in spec.ignore or model_field.primary_key or name in {"created_at", "updated_at"}:
            continue
        if not model_field.editable and not _is_secret(name):
            continue  # set by the system (live state, what a charger reported), not by people
        value = _value(getattr(instance, name))
        values[name] = _url_origin(value) if name.endswith("url") and value else value
    return values


def _url_origin(url: Any) -> Any:
    """A URL as the log keeps it: scheme, host and port, and a short digest of the rest. Paths
    and queries may carry secrets (a chat service's webhook URL is its own credential), and the
    log outlives them; the digest still tells one URL from another."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname or ''}" + (
            f":{parts.port}" if parts.port else ""
        )
    except ValueError:
        origin = "(not a URL)"
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{origin}/… #{digest}" if url.rstrip("/") != origin else origin


def _installation(instance: models.Model, spec: Audited) -> int | None:
    if not spec.installation:
        return None
    target: Any = instance
    for part in spec.installation.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target  # type: ignore[no-any-return]


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    for name, new in after.items():
        old = before.get(name)
        if old != new:
            changes[name] = [SECRET, SECRET] if _is_secret(name) else [old, new]
    return changes


def _remember(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if current_request.get() is None or instance.pk is None or kwargs.get("raw"):
        return
    spec = SPECS[sender]
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _fields(old, spec) if old is not None else None  # type: ignore[attr-defined]


def _saved(
    sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any
) -> None:
    request = current_request.get()
    if request is None or kwargs.get("raw"):
        return
    spec = SPECS[sender]
    if not created and spec.label in CREATION_ONLY:
        return
    after = _fields(instance, spec)
    if spec.label == "commands.Command":  # as the command log shows it: cards, secrets masked
        from commands.serializers import shown_payload

        after["payload"] = shown_payload(after.get("action", ""), after.get("payload"))
    if created:
        changes = {
            name: [None, SECRET if _is_secret(name) else value]
            for name, value in after.items()
            if value not in (None, "", [], {})
        }
    else:
        before = getattr(instance, "_audit_before", None)
        changes = _diff(before or {}, after)
        if not changes:
            return
    _write(request, instance, spec, "created" if created else "changed", changes)


def _deleted(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    request = current_request.get()
    if request is None:
        return
    _write(request, instance, SPECS[sender], "deleted", {})


def _write(
    request: Any, instance: models.Model, spec: Audited, action: str, changes: dict[str, Any]
) -> None:
    from audit.models import AuditEntry
    from installations.models import Installation

    installation_id = _installation(instance, spec)
    if spec.label == "installations.Installation":
        installation_id = instance.pk if action != "deleted" else None
    name = ""
    if installation_id is not None:
        name = (
            Installation.objects.filter(pk=installation_id).values_list("name", flat=True).first()
            or ""
        )
    elif spec.label == "installations.Installation":
        name = str(instance)
    actor, via = actor_of(request)
    try:
        AuditEntry.objects.create(
            installation_id=installation_id,
            installation_name=name[:200],
            actor=actor,
            actor_email=getattr(actor, "email", "")[:254],
            via=via,
            address=client_address(request),
            action=action,
            object_type=instance._meta.verbose_name.capitalize()[:60],
            object_id=str(instance.pk)[:40],
            object_repr=str(instance)[:200],
            changes=changes,
        )
    except Exception:  # the change itself must not fail for its log line
        logger.exception("Could not write the audit entry of %s %s", spec.label, instance.pk)
        return
    _emit(spec, instance, installation_id, action, changes, actor, via)


# Which event a person's change is (events/catalogue.py); commands and API tokens have none:
# commands have their own events, tokens belong to no installation.
PERMISSION_MODELS = {
    "installations.Membership",
    "installations.Invitation",
    "auth_access.ChargerPermission",
    "auth_access.ChargeCard",
}
NO_EVENT = {"commands.Command", "accounts.ApiToken"}


def _emit(
    spec: Audited,
    instance: models.Model,
    installation_id: int | None,
    action: str,
    changes: dict[str, Any],
    actor: Any,
    via: str,
) -> None:
    from events import emit
    from events.choices import EventType

    if installation_id is None or spec.label in NO_EVENT:
        return
    if installation_id in installations_going.get():
        return  # its events go with it (a circuit or member deleted as the installation is)
    kind = (
        EventType.PERMISSIONS_CHANGED
        if spec.label in PERMISSION_MODELS
        else EventType.SETTINGS_CHANGED
    )
    emit(
        kind,
        installation_id=installation_id,
        payload={
            "object_type": instance._meta.model_name,
            "object_id": instance.pk,
            "action": action,
            "fields": sorted(changes),
            "actor_id": getattr(actor, "pk", None),
            "via": via.split(" ")[0],  # web, admin or api (not the token's name)
        },
    )


SPECS: dict[type[models.Model], Audited] = {}


def _installation_going(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Django sends every pre_delete of a cascade before the rows go: the children deleted with
    an installation are then not told as events of a vanishing installation."""
    if current_request.get() is not None:
        installations_going.set(installations_going.get() | {instance.pk})


def connect() -> None:
    for spec in AUDITED:
        try:
            model = apps.get_model(spec.label)
        except LookupError:  # an app not installed
            continue
        SPECS[model] = spec
        pre_save.connect(_remember, sender=model, dispatch_uid=f"audit-pre-{spec.label}")
        post_save.connect(_saved, sender=model, dispatch_uid=f"audit-post-{spec.label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"audit-del-{spec.label}")
        if spec.label == "installations.Installation":
            pre_delete.connect(_installation_going, sender=model, dispatch_uid="audit-going")
