from __future__ import annotations

from django.contrib.auth import authenticate
from rest_framework import serializers

from accounts.models import User
from installations.models import Membership


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="The account's e-mail address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs: dict[str, str]) -> dict[str, object]:
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"].strip().lower(),
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError("Unable to log in with these credentials.")
        return {"user": user}


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
