from __future__ import annotations

from rest_framework import serializers

from accounts.models import ApiToken, User
from installations.models import Membership


class TokenRequestSerializer(serializers.Serializer):
    """The credentials; ``accounts.tokens.issue_token`` decides whether they earn a token."""

    username = serializers.CharField(help_text="The account's e-mail address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    code = serializers.CharField(
        required=False,
        default="",
        max_length=64,
        help_text=(
            "The code of the account's authenticator app, or a recovery code: required when"
            " the account has two-factor authentication on."
        ),
    )

    name = serializers.CharField(
        required=False,
        default="",
        max_length=100,
        help_text="What will use the token (default: the time it was made).",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="None: never expires."
    )
    read_only = serializers.BooleanField(
        required=False, default=False, help_text="Only GET, HEAD and OPTIONS requests."
    )
    installations = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=1000,
        help_text="Only these installations (default: every one the account may reach).",
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as lists show it: never its key."""

    installations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id", "name", "prefix", "read_only", "installations", "created_at", "expires_at",
            "last_used_at",
        ]  # fmt: skip
        read_only_fields = fields


class TokenSerializer(ApiTokenSerializer):
    """A token just made: with its key, shown this once."""

    token = serializers.CharField(read_only=True, help_text="The key: keep it, it is shown once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class MembershipSummarySerializer(serializers.ModelSerializer):
    installation_name = serializers.CharField(source="installation.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["installation", "installation_name", "role"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    memberships = MembershipSummarySerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "is_staff", "memberships"]
        read_only_fields = ["id", "email", "is_staff", "memberships"]
