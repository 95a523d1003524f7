"""The Fusebox user: identified by e-mail address, no username."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import Q

from portal.tenancy import Action, TenantQuerySet


class UserManager(DjangoUserManager["User"]):
    """Creates users from an e-mail address instead of a username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:  # type: ignore[override]
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:  # type: ignore[override]
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:  # type: ignore[override]
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person: owner, installer or driver, depending on their memberships."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)
    name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._revoke_tokens = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Also deletes the user's API tokens when the password was set, reset or changed
        (``set_password`` keeps the new one in ``_password`` until saved; Django's own rehash
        at login clears it first, so an upgraded hash keeps the token)."""
        self.email = self.email.lower()
        revoke = self.pk is not None and (
            self._password is not None or getattr(self, "_revoke_tokens", False)
        )
        super().save(*args, **kwargs)
        if revoke:
            ApiToken.objects.filter(user=self).delete()
            self._revoke_tokens = False


class ApiToken(models.Model):
    """A named API key of a user (``Authorization: Token <key>``), for one integration each.

    Only a hash of the key is stored (the key is shown once, when it is made); ``prefix`` names it
    in lists. A token may expire, may be read-only, and may be limited to some installations: the
    tenancy gate (``portal.tenancy``) then serves only those, whatever the user's roles elsewhere.
    Revoking deletes it; changing the password revokes every token of the user.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False)
    installations = models.ManyToManyField(
        "installations.Installation",
        blank=True,
        related_name="+",
        help_text="Only these installations (none chosen: every one the user may reach).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Through the tenancy gate like everything served to a user: a user's own tokens, whatever
    # the installation (``restrict`` still narrows a read-only token to reading).
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    # A person's own: a superuser too sees only theirs through restrict().
    personal = True

    @classmethod
    def tenant_filter(cls, user: Any, action: Action) -> Q:
        return Q(user=user)
