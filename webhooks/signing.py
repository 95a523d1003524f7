"""Standard Webhooks signatures (https://www.standardwebhooks.com/): pure functions.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the secret's
base64 part decoded (after ``whsec_``); the header is ``v1,<base64 HMAC-SHA256>``. The
receiver's side of this is the example in docs/webhooks.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from webhooks.models import SECRET_PREFIX


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret: its base64 part, decoded."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
