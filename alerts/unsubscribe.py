"""The signed one-click unsubscribe link of every alert e-mail (``django.core.signing``).

A token names a user and an installation (or none: every installation, the digest's link); it
needs no login and never expires, since a mail client may use it long after the e-mail came.
Unsubscribing turns the user's subscription at that installation off (made from the role's
defaults when the user had none), so a later change of mind is one switch on the Alerts page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.urls import reverse

from alerts.models import Subscription
from installations.models import Installation, Membership

SALT = "alerts.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    installation_id: int | None  # None: every installation


def make_token(user_id: int, installation_id: int | None) -> str:
    return signing.dumps({"u": user_id, "i": installation_id}, salt=SALT, compress=True)


def read_token(token: str) -> Unsubscribe | None:
    """The request a token carries, or None when it is not one of ours (bad signature, bad shape)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    installation_id = data.get("i")
    if installation_id is not None and not isinstance(installation_id, int):
        return None
    return Unsubscribe(data["u"], installation_id)


def url_for(user_id: int, installation_id: int | None) -> str:
    path = reverse("alerts:unsubscribe", args=[make_token(user_id, installation_id)])
    return settings.SITE_URL.rstrip("/") + path


def _memberships(request: Unsubscribe) -> QuerySet[Membership]:
    """The user's memberships the request covers (installations they are still a member of)."""
    memberships = Membership.objects.filter(user_id=request.user_id)
    if request.installation_id is not None:
        memberships = memberships.filter(installation_id=request.installation_id)
    return memberships.select_related("installation")


def installations_of(request: Unsubscribe) -> list[Installation]:
    return [membership.installation for membership in _memberships(request)]


def apply(request: Unsubscribe) -> int:
    """Turn the covered subscriptions off; the number of installations. Idempotent."""
    done = 0
    for membership in _memberships(request):
        subscription = Subscription.objects.filter(
            user_id=request.user_id, installation_id=membership.installation_id
        ).first() or Subscription.for_membership(membership)
        subscription.enabled = False
        subscription.save()
        done += 1
    return done
