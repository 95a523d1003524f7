"""Standing personas and their installations, shared by every test.

Tenant A ("Harbour car park", owner alice):
  - ingrid is its installer (and also installer of tenant C, another owner's site),
  - dora is a driver who may charge everywhere, dave a driver allowed on charger A1 only.
Tenant B ("Depot north", owner oscar): the outsider for everyone above.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.api_tokens import hash_key
from accounts.models import ApiToken, User
from auth_access.models import ChargerPermission
from chargers.models import Charger
from chargers.services import register_charger
from installations.choices import Role
from installations.models import Circuit, Installation, Membership
from installations.services import create_installation

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    alice: User
    ingrid: User
    dora: User
    dave: User
    oscar: User
    site_a: Installation
    main_a: Circuit
    row_a: Circuit
    charger_a1: Charger
    charger_a2: Charger
    site_b: Installation
    main_b: Circuit
    charger_b1: Charger
    site_c: Installation


def _user(email: str, name: str) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, name=name)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture(scope="session", autouse=True)
def _static_files(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: object) -> None:
    """Collect static files once, as production does, so pages render with the manifest storage."""
    from django.conf import settings
    from django.core.management import call_command

    settings.STATIC_ROOT = str(tmp_path_factory.mktemp("static"))
    # Users' passwords: a fast hasher in tests (the production one is deliberately slow).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Throttle counters and cached state live in the real Redis: start every test clean."""
    cache.clear()


@pytest.fixture
def world(db: None) -> World:
    alice = _user("alice@example.com", "Alice Owner")
    ingrid = _user("ingrid@example.com", "Ingrid Installer")
    dora = _user("dora@example.com", "Dora Driver")
    dave = _user("dave@example.com", "Dave Driver")
    oscar = _user("oscar@example.com", "Oscar Outsider")

    site_a = create_installation(alice, name="Harbour car park", main_fuse_a=63)
    main_a = site_a.main_fuse
    row_a = Circuit.objects.create(
        installation=site_a, parent=main_a, name="Row A", max_current_a=32
    )
    charger_a1, _ = register_charger(circuit=row_a, name="A1", ocpp_identity="HARBOUR-A1")
    charger_a2, _ = register_charger(
        circuit=main_a, name="A2", ocpp_identity="HARBOUR-A2", connector_count=2
    )
    Membership.objects.create(user=ingrid, installation=site_a, role=Role.INSTALLER)
    Membership.objects.create(user=dora, installation=site_a, role=Role.DRIVER)
    dave_membership = Membership.objects.create(
        user=dave, installation=site_a, role=Role.DRIVER, may_charge_everywhere=False
    )
    ChargerPermission.objects.create(membership=dave_membership, charger=charger_a1)

    site_b = create_installation(oscar, name="Depot north", main_fuse_a=125)
    main_b = site_b.main_fuse
    charger_b1, _ = register_charger(circuit=main_b, name="B1", ocpp_identity="DEPOT-B1")

    carol = _user("carol@example.com", "Carol Other Owner")
    site_c = create_installation(carol, name="Office west", main_fuse_a=80)
    Membership.objects.create(user=ingrid, installation=site_c, role=Role.INSTALLER)

    return World(
        alice,
        ingrid,
        dora,
        dave,
        oscar,
        site_a,
        main_a,
        row_a,
        charger_a1,
        charger_a2,
        site_b,
        main_b,
        charger_b1,
        site_c,
    )


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def api_as(user: User) -> APIClient:
    """An API client authenticated with the user's token, as a third-party integration would be."""
    client = APIClient()
    key = f"fbx_test_{user.pk}_{user.email}"
    ApiToken.objects.get_or_create(
        key_hash=hash_key(key), defaults={"user": user, "name": "tests", "prefix": key[:12]}
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
