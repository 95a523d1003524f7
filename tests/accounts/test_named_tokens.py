"""Named API tokens (issue #13): several per user, each with a name, an optional expiry,
read-only or full, optionally limited to some installations (the tenancy gate then serves only
those), the last use shown, revocable; keys stored only as hashes, shown once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.authentication import READ_ONLY_MESSAGE
from accounts.models import ApiToken
from tests.conftest import PASSWORD, World
from tests.reporting.conftest import make_session

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/token/"


def _new(email: str, **asked: object) -> dict:
    response = APIClient().post(
        URL, {"username": email, "password": PASSWORD, **asked}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_user_holds_several_named_tokens_and_revokes_one(world: World) -> None:
    ci = _new("alice@example.com", name="CI pipeline")
    erp = _new("alice@example.com", name="Billing system")
    assert ci["token"].startswith("fbx_") and ci["token"] != erp["token"]
    assert (ci["name"], ci["prefix"]) == ("CI pipeline", ci["token"][:12])
    stored = ApiToken.objects.get(pk=ci["id"])
    assert stored.key_hash == hash_key(ci["token"]) and ci["token"] not in str(stored.__dict__)

    listed = _client(ci["token"]).get("/api/v1/auth/tokens/").json()
    assert {t["name"] for t in listed} == {"CI pipeline", "Billing system"}
    assert all("token" not in t for t in listed)  # keys are shown once, at creation
    gone = _client(ci["token"]).delete(f"/api/v1/auth/tokens/{erp['id']}/")
    assert gone.status_code == 204
    assert _client(erp["token"]).get("/api/v1/me/").status_code == 401
    assert _client(ci["token"]).get("/api/v1/me/").status_code == 200


def test_an_expired_token_is_refused_and_the_last_use_is_recorded(world: World) -> None:
    token = _new("alice@example.com", name="Short", expires_at=timezone.now() + timedelta(hours=1))
    assert ApiToken.objects.get(pk=token["id"]).last_used_at is None
    assert _client(token["token"]).get("/api/v1/me/").status_code == 200
    assert ApiToken.objects.get(pk=token["id"]).last_used_at is not None
    ApiToken.objects.filter(pk=token["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = _client(token["token"]).get("/api/v1/me/")
    assert answer.status_code == 401
    past = APIClient().post(
        URL,
        {"username": "alice@example.com", "password": PASSWORD, "expires_at": "2020-01-01T00:00Z"},
        format="json",
    )
    assert past.status_code == 400 and "expires_at" in past.json()["error"]["fields"]


def test_a_read_only_token_reads_and_changes_nothing(world: World) -> None:
    key = _new("alice@example.com", name="Dashboard", read_only=True)["token"]
    client = _client(key)
    assert client.get(f"/api/v1/installations/{world.site_a.pk}/").status_code == 200
    changed = client.patch(f"/api/v1/installations/{world.site_a.pk}/", {"name": "Hacked"})
    assert changed.status_code == 403
    assert changed.json()["error"]["message"] == READ_ONLY_MESSAGE
    assert client.delete(f"/api/v1/chargers/{world.charger_a1.pk}/").status_code == 403
    world.site_a.refresh_from_db()
    assert world.site_a.name == "Harbour car park"


def test_a_token_limited_to_one_installation_sees_nothing_of_the_others(world: World) -> None:
    """Ingrid installs at the harbour (site A) and the office (site C); her token for the
    office's integrator reaches the office only, wherever it asks."""
    make_session(world.charger_a1, timezone.now() - timedelta(hours=2))
    key = _new("ingrid@example.com", name="Office integrator", installations=[world.site_c.pk])[
        "token"
    ]
    client = _client(key)
    listed = client.get("/api/v1/installations/").json()["results"]
    assert [i["id"] for i in listed] == [world.site_c.pk]
    assert client.get(f"/api/v1/installations/{world.site_a.pk}/").status_code == 404
    assert client.get(f"/api/v1/chargers/{world.charger_a1.pk}/").status_code == 404
    assert client.get("/api/v1/sessions/").json()["results"] == []
    # Naming the other installation is as if it did not exist.
    assert client.get("/api/v1/sessions/", {"installation": world.site_a.pk}).status_code == 404
    # Her full token still reaches both.
    full = _client(_new("ingrid@example.com", name="Laptop")["token"])
    assert len(full.get("/api/v1/installations/").json()["results"]) == 2
    # The limited token lists and may revoke only itself.
    own = client.get("/api/v1/auth/tokens/").json()
    assert [t["name"] for t in own] == ["Office integrator"]
    laptop = ApiToken.objects.get(name="Laptop")
    assert client.delete(f"/api/v1/auth/tokens/{laptop.pk}/").status_code == 404


def test_a_token_cannot_name_another_tenants_installation(world: World) -> None:
    refused = APIClient().post(
        URL,
        {"username": "alice@example.com", "password": PASSWORD, "installations": [world.site_b.pk]},
        format="json",
    )
    assert refused.status_code == 400
    assert "installations" in refused.json()["error"]["fields"]
    assert not ApiToken.objects.filter(user=world.alice).exists()


def test_tokens_of_a_user_are_capped(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.API_TOKENS_PER_USER = 2
    _new("alice@example.com")
    _new("alice@example.com")
    third = APIClient().post(URL, {"username": "alice@example.com", "password": PASSWORD})
    assert third.status_code == 400
    assert "revoke" in third.json()["error"]["fields"]["name"][0]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_users_old_token_working(world: World) -> None:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([("accounts", "0001_initial")])
        executor.loader.build_graph()
        old = executor.loader.project_state([("authtoken", "0004_alter_tokenproxy_options")]).apps
        old_key = "0123456789abcdef0123456789abcdef01234567"
        old.get_model("authtoken", "Token").objects.create(key=old_key, user_id=world.alice.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
    assert _client(old_key).get("/api/v1/me/").json()["email"] == "alice@example.com"
    carried = ApiToken.objects.get(user=world.alice)
    assert (carried.name, carried.prefix) == ("API token", old_key[:12])
