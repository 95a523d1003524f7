"""Configuration values people must not read: passwords, keys and tokens a charger holds.

A charger's GetConfiguration answer lists every key it has, and some firmwares include their
secrets in it (OCPP's own ``AuthorizationKey``, which the specification says is write-only,
back-office and Wi-Fi passwords, modem PINs and API tokens under vendor names). The answer is
kept on the command record and as the charger's configuration, both readable by the
installation's owners and installers (and, later, an upstream central system). So the values of
keys whose names say "secret" are replaced by ``MASK`` before the answer is stored, and a
ChangeConfiguration that sets one is shown masked (it is sent as given). Pure.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "********"
SECRET_KEY_NAME = re.compile(
    r"authorization_?key|passw|passphrase|secret|token|api_?key|private_?key|psk|credential",
    re.IGNORECASE,
)


def is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and SECRET_KEY_NAME.search(key) is not None


def mask_configuration(answer: Any) -> Any:
    """A GetConfiguration answer with the values of secret keys masked (anything else as is)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("configurationKey"), list):
        return answer
    entries = [
        {**entry, "value": MASK}
        if isinstance(entry, dict) and is_secret_key(entry.get("key")) and entry.get("value")
        else entry
        for entry in answer["configurationKey"]
    ]
    return {**answer, "configurationKey": entries}


def mask_change(payload: Any) -> Any:
    """A ChangeConfiguration request as people see it: a secret key's new value masked."""
    if isinstance(payload, dict) and is_secret_key(payload.get("key")) and "value" in payload:
        return {**payload, "value": MASK}
    return payload
