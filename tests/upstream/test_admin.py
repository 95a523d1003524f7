"""The Django admin saves upstream settings through the same rules as the pages and the API
(``upstream.services``) and tells the bridge (``outbox.settings_changed``) when they change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from portal.redis import get_redis
from tests.conftest import World
from upstream import outbox
from upstream.models import UpstreamSettings

PASSWORD = "a-password-of-24-chars!!"


@pytest.fixture
def announced() -> Iterator[Any]:
    """The installation ids announced on the bridge's settings channel (real Redis)."""
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(outbox.CHANNEL)

    def heard() -> list[int]:
        found = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            found.append(json.loads(message["data"])["installation_id"])
        return found

    try:
        yield heard
    finally:
        pubsub.close()


def _form(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "installation": world.site_a.pk,
        "charger": "",
        "enabled": "on",
        "url": "ws://127.0.0.1:9/ocpp",
        "identity": "",
        "security_profile": 1,
        "new_password": PASSWORD,
        "ca_certificate": "",
        "authorization": "fusebox",
        "offline_authorization": "accept_known",
        "allowed_commands": "RemoteStartTransaction,ReserveNow",
        "charger_down": "disconnect",
        **fields,
    }


@pytest.mark.django_db(transaction=True)
def test_the_admin_checks_settings_as_the_api_does_and_tells_the_bridge(
    world: World, admin_client: Client, settings: Any, announced: Any
) -> None:
    add = "/admin/upstream/upstreamsettings/add/"
    settings.UPSTREAM_ALLOW_LOCAL = False  # production's SSRF rule
    refused = admin_client.post(add, _form(world))
    assert refused.status_code == 200 and not UpstreamSettings.objects.exists()
    assert "url" in refused.context["adminform"].form.errors
    settings.UPSTREAM_ALLOW_LOCAL = True
    no_password = admin_client.post(add, _form(world, new_password=""))
    assert no_password.context["adminform"].form.errors["new_password"] == [
        "Security profiles 1 and 2 need a password."
    ]
    unknown = admin_client.post(add, _form(world, allowed_commands="MakeCoffee"))
    assert "allowed_commands" in unknown.context["adminform"].form.errors
    assert not UpstreamSettings.objects.exists() and announced() == []

    saved = admin_client.post(add, _form(world))
    assert saved.status_code == 302
    row = UpstreamSettings.objects.get()
    assert row.password == PASSWORD and row.allowed_commands == [
        "RemoteStartTransaction",
        "ReserveNow",
    ]
    assert announced() == [world.site_a.pk]
    change = f"/admin/upstream/upstreamsettings/{row.pk}/change/"
    page = admin_client.get(change).content.decode()
    assert PASSWORD not in page  # write-only
    kept = admin_client.post(change, _form(world, new_password="", paused="on"))
    assert kept.status_code == 302
    row.refresh_from_db()
    assert row.paused and row.password == PASSWORD  # empty keeps the stored one
    assert announced() == [world.site_a.pk]

    deleted = admin_client.post(
        f"/admin/upstream/upstreamsettings/{row.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302 and not UpstreamSettings.objects.exists()
    assert announced() == [world.site_a.pk]
