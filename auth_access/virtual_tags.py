"""Per-user virtual idTags: how a start from the portal or app identifies its user to a charger.

A virtual idTag is ``"FB"`` followed by the RFC 4648 base32 encoding (16 characters, no padding)
of 10 bytes: the user id as 5 bytes big-endian, then the first 5 bytes of
HMAC-SHA256(key, "fusebox-virtual-tag:<user id>"), the key derived from ``SECRET_KEY`` (Django's
``salted_hmac``). 18 characters, within OCPP's 20; stable for a user as long as ``SECRET_KEY``
stays; it names its user without a database lookup, and cannot be made up for another user
without the key. It is still only accepted together with an open remote start of that user on
that charger (``RemoteStart``), so a copied tag on a card of its own gets nowhere.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from django.utils.crypto import salted_hmac

PREFIX = "FB"
LENGTH = 18
_ID_BYTES = 5
_MAC_BYTES = 5
_SALT = "fusebox.auth_access.virtual_tag"


def _mac(user_id: int) -> bytes:
    digest = salted_hmac(_SALT, f"fusebox-virtual-tag:{user_id}", algorithm="sha256").digest()
    return digest[:_MAC_BYTES]


def virtual_id_tag(user_id: int) -> str:
    """The user's virtual idTag."""
    raw = user_id.to_bytes(_ID_BYTES, "big") + _mac(user_id)
    return PREFIX + base64.b32encode(raw).decode("ascii")


def looks_virtual(id_tag: str) -> bool:
    """Has the shape of a virtual idTag (such card numbers are reserved)."""
    if len(id_tag) != LENGTH or not id_tag.upper().startswith(PREFIX):
        return False
    try:
        base64.b32decode(id_tag[len(PREFIX) :].upper())
    except (binascii.Error, ValueError):
        return False
    return True


def user_of_virtual_tag(id_tag: str) -> int | None:
    """The user id a genuine virtual idTag names, or None."""
    if not looks_virtual(id_tag):
        return None
    raw = base64.b32decode(id_tag[len(PREFIX) :].upper())
    user_id = int.from_bytes(raw[:_ID_BYTES], "big")
    if not hmac.compare_digest(raw[_ID_BYTES:], _mac(user_id)):
        return None
    return user_id
