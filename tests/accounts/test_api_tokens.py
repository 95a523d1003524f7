"""``POST /api/v1/auth/token/`` is no way around the web login: two-factor codes, verified e-mail,
tokens dying with the password, throttles that ignore a forged X-Forwarded-For, and a lockout
per account."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import ApiToken
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"
NEW_PASSWORD = "a long and unusual passphrase 42"


def _ask(client: APIClient, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(URL, {"username": email, "password": password, **extra})


def _works(token: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/me/").status_code == 200


def _totp_code(secret: str, steps_ahead: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + steps_ahead))


class TestTwoFactor:
    def test_a_password_alone_gets_no_token_when_two_factor_is_on(
        self, world: World, api: APIClient
    ) -> None:
        TOTP.activate(world.alice, generate_totp_secret())
        response = _ask(api, "alice@example.com")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["fields"] == {"code": [tokens.CODE_REQUIRED]}
        assert not ApiToken.objects.filter(user=world.alice).exists()

    def test_the_authenticator_code_earns_the_token_once(
        self, world: World, api: APIClient
    ) -> None:
        secret = generate_totp_secret()
        TOTP.activate(world.alice, secret)
        wrong = _ask(api, "alice@example.com", code="000000")
        assert wrong.status_code == 400
        assert wrong.json()["error"]["fields"] == {"code": [tokens.WRONG_CODE]}
        code = _totp_code(secret)
        response = _ask(api, "alice@example.com", code=code)
        assert response.status_code == 200
        assert _works(response.json()["token"])
        replayed = _ask(api, "alice@example.com", code=code)  # a used code is refused
        assert replayed.status_code == 400

    def test_a_recovery_code_earns_the_token(self, world: World, api: APIClient) -> None:
        TOTP.activate(world.alice, generate_totp_secret())
        recovery = RecoveryCodes.activate(world.alice)
        response = _ask(api, "alice@example.com", code=recovery.get_unused_codes()[0])
        assert response.status_code == 200
        assert _works(response.json()["token"])

    def test_a_wrong_password_with_a_good_code_is_still_refused(
        self, world: World, api: APIClient
    ) -> None:
        secret = generate_totp_secret()
        TOTP.activate(world.alice, secret)
        response = _ask(api, "alice@example.com", "nope", code=_totp_code(secret))
        assert response.status_code == 400
        assert response.json()["error"]["message"] == tokens.WRONG_CREDENTIALS


class TestEmailVerification:
    def test_an_unverified_address_gets_no_token_when_verification_is_mandatory(
        self, world: World, api: APIClient
    ) -> None:
        EmailAddress.objects.filter(user=world.dora).update(verified=False)
        response = _ask(api, "dora@example.com")
        assert response.status_code == 400
        assert response.json()["error"]["message"] == tokens.UNVERIFIED
        assert not ApiToken.objects.filter(user=world.dora).exists()

    def test_an_account_without_any_address_record_gets_none_either(
        self, world: World, api: APIClient
    ) -> None:
        EmailAddress.objects.filter(user=world.dora).delete()
        assert _ask(api, "dora@example.com").status_code == 400

    @override_settings(ACCOUNT_EMAIL_VERIFICATION="optional")
    def test_with_optional_verification_the_password_suffices(
        self, world: World, api: APIClient
    ) -> None:
        EmailAddress.objects.filter(user=world.dora).update(verified=False)
        assert _ask(api, "dora@example.com").status_code == 200


class TestPasswordChange:
    def _token(self, email: str) -> str:
        response = _ask(APIClient(), email)
        assert response.status_code == 200
        return response.json()["token"]

    def test_changing_the_password_on_the_web_page_revokes_the_token(self, world: World) -> None:
        token = self._token("dora@example.com")
        assert _works(token)
        browser = Client()
        browser.force_login(world.dora)
        response = browser.post(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        assert not _works(token)
        fresh = _ask(APIClient(), "dora@example.com", NEW_PASSWORD)
        assert fresh.status_code == 200 and fresh.json()["token"] != token

    def test_a_password_set_or_reset_in_any_other_way_revokes_it_too(self, world: World) -> None:
        token = self._token("dora@example.com")
        world.dora.set_password(NEW_PASSWORD)  # admin, reset by e-mail, changepassword
        world.dora.save()
        assert not _works(token)
        token = self._token("alice@example.com")
        world.alice.set_unusable_password()
        world.alice.save()
        assert not _works(token)

    def test_other_saves_and_logins_keep_the_token(self, world: World) -> None:
        token = self._token("dora@example.com")
        world.dora.name = "Dora D."
        world.dora.save()
        assert Client().login(username="dora@example.com", password=PASSWORD)
        assert _works(token)


class TestThrottleAddress:
    def test_a_forged_x_forwarded_for_does_not_give_a_fresh_allowance(
        self, world: World, api: APIClient
    ) -> None:
        statuses = [
            api.post(
                URL,
                {"username": f"nobody{n}@example.com", "password": "x"},
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            ).status_code
            for n in range(11)
        ]
        assert statuses == [400] * 10 + [429]

    def test_behind_a_trusted_proxy_the_address_it_appended_counts(
        self, world: World, api: APIClient, settings
    ) -> None:  # type: ignore[no-untyped-def]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

        def attempt(forwarded: str) -> int:
            return api.post(
                URL,
                {"username": f"nobody{time.monotonic_ns()}@example.com", "password": "x"},
                HTTP_X_FORWARDED_FOR=forwarded,
            ).status_code

        # What the client wrote first is ignored; the proxy's own entry (the last) counts.
        assert [attempt(f"198.51.100.{n}, 203.0.113.7") for n in range(10)] == [400] * 10
        assert attempt("198.51.100.99, 203.0.113.7") == 429
        assert attempt("203.0.113.8") == 400  # another client behind the same proxy


class TestLockout:
    def test_failures_from_many_addresses_lock_the_account_even_for_the_right_password(
        self, world: World, api: APIClient, settings
    ) -> None:  # type: ignore[no-untyped-def]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        statuses = [
            _ask(api, "alice@example.com", "nope", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
            for n in range(6)
        ]
        assert [r.status_code for r in statuses] == [400] * 5 + [429]
        locked = _ask(api, "alice@example.com", HTTP_X_FORWARDED_FOR="203.0.113.50")
        assert locked.status_code == 429
        assert locked.json()["error"] == {
            "code": "throttled",
            "message": "Too many failed attempts for this account: try again in 15 minutes.",
        }
        assert 0 < int(locked["Retry-After"]) <= 900
        # Other accounts are not affected.
        assert _ask(api, "dora@example.com", HTTP_X_FORWARDED_FOR="203.0.113.51").status_code == 200

    def test_wrong_two_factor_codes_count_and_a_success_resets_the_count(
        self, world: World, api: APIClient, settings
    ) -> None:  # type: ignore[no-untyped-def]
        settings.API_TOKEN_LOCKOUT_ATTEMPTS = 3
        secret = generate_totp_secret()
        TOTP.activate(world.alice, secret)
        assert _ask(api, "alice@example.com", "nope").status_code == 400
        assert _ask(api, "alice@example.com", code="000000").status_code == 400
        assert _ask(api, "alice@example.com", code=_totp_code(secret)).status_code == 200
        assert _ask(api, "alice@example.com", "nope").status_code == 400
        assert _ask(api, "alice@example.com", code="000000").status_code == 400
        assert _ask(api, "alice@example.com", code=_totp_code(secret, 1)).status_code == 200
        for _ in range(3):
            _ask(api, "alice@example.com", code="000000")
        assert _ask(api, "alice@example.com", code=_totp_code(secret, -1)).status_code == 429

    def test_the_lock_ends_after_its_time(self, world: World, api: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
        settings.API_TOKEN_LOCKOUT_ATTEMPTS = 2
        settings.API_TOKEN_LOCKOUT_S = 1
        for _ in range(2):
            _ask(api, "Alice@Example.com ", "nope")
        assert _ask(api, "alice@example.com").status_code == 429
        time.sleep(1.2)
        assert _ask(api, "alice@example.com").status_code == 200


OURS = {"TRUSTED_PROXIES", "API_TOKEN_LOCKOUT_ATTEMPTS", "API_TOKEN_LOCKOUT_S"}


class TestSettings:
    def _settings(self, **env: str) -> subprocess.CompletedProcess[str]:
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings';"
            "from django.conf import settings;"
            "print(settings.REST_FRAMEWORK['NUM_PROXIES'], settings.ALLAUTH_TRUSTED_PROXY_COUNT,"
            " settings.API_TOKEN_LOCKOUT_ATTEMPTS, settings.API_TOKEN_LOCKOUT_S)"
        )
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**{k: v for k, v in os.environ.items() if k not in OURS}, **env},
            capture_output=True,
            text=True,
            check=False,
        )

    def test_trusted_proxies_and_the_lockout_come_from_the_environment(self) -> None:
        default = self._settings()
        assert default.stdout.split() == ["0", "0", "5", "900"], default.stderr
        behind_one = self._settings(
            TRUSTED_PROXIES="1", API_TOKEN_LOCKOUT_ATTEMPTS="3", API_TOKEN_LOCKOUT_S="60"
        )
        assert behind_one.stdout.split() == ["1", "1", "3", "60"], behind_one.stderr

    def test_nonsense_is_refused_at_start(self) -> None:
        negative = self._settings(TRUSTED_PROXIES="-1")
        assert negative.returncode != 0 and "TRUSTED_PROXIES='-1' is below 0" in negative.stderr
        zero = self._settings(API_TOKEN_LOCKOUT_ATTEMPTS="0")
        assert zero.returncode != 0 and "API_TOKEN_LOCKOUT_ATTEMPTS='0' is below 1" in zero.stderr
