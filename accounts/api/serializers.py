from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
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


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


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
