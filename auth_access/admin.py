"""Access control in the admin: cards, permissions, seen cards, policies, decisions, lists,
reservations."""

from django.contrib import admin
from django.db import models

from auth_access.models import (
    AccessPolicy,
    AuthorizationRecord,
    ChargeCard,
    ChargerPermission,
    LocalListState,
    RemoteStart,
    Reservation,
    SeenCard,
)


@admin.register(ChargerPermission)
class ChargerPermissionAdmin(admin.ModelAdmin):
    list_display = ["membership", "charger", "granted_by", "created_at"]
    list_select_related = ["membership__user", "membership__installation", "charger"]
    search_fields = ["membership__user__email", "charger__name", "charger__ocpp_identity"]
    raw_id_fields = ["membership", "charger", "granted_by"]


@admin.register(ChargeCard)
class ChargeCardAdmin(admin.ModelAdmin):
    list_display = ["id_tag", "name", "user", "is_blocked", "expires_at", "created_at"]
    list_filter = ["is_blocked"]
    search_fields = ["id_tag", "name", "user__email"]
    raw_id_fields = ["user", "created_by", "blocked_by"]


@admin.register(SeenCard)
class SeenCardAdmin(admin.ModelAdmin):
    list_display = ["id_tag", "charger", "times_seen", "first_seen_at", "last_seen_at"]
    list_select_related = ["charger"]
    search_fields = ["id_tag", "charger__name", "charger__ocpp_identity"]
    raw_id_fields = ["charger"]


@admin.register(AccessPolicy)
class AccessPolicyAdmin(admin.ModelAdmin):
    list_display = ["installation", "running_session_policy", "external_enabled", "external_url"]
    list_select_related = ["installation"]
    exclude = ["external_secret"]  # set through the API; never shown
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    raw_id_fields = ["installation"]


@admin.register(AuthorizationRecord)
class AuthorizationRecordAdmin(admin.ModelAdmin):
    list_display = ["created_at", "charger", "id_tag", "user", "trigger", "status", "source"]
    list_filter = ["status", "source", "trigger"]
    list_select_related = ["charger", "user"]
    search_fields = ["id_tag", "user__email", "charger__ocpp_identity"]
    raw_id_fields = ["installation", "charger", "card", "user"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # a volume table


@admin.register(RemoteStart)
class RemoteStartAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "charger", "connector_id", "status"]
    list_filter = ["status"]
    list_select_related = ["charger", "user"]
    raw_id_fields = ["charger", "user", "command", "session"]


@admin.register(LocalListState)
class LocalListStateAdmin(admin.ModelAdmin):
    list_display = ["charger", "version", "status", "size", "synced_at"]
    list_filter = ["status"]
    list_select_related = ["charger"]
    raw_id_fields = ["charger"]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "charger", "connector_id", "user", "upstream_host", "expires_at", "status",
    ]  # fmt: skip
    list_filter = ["status"]
    list_select_related = ["charger", "user"]
    raw_id_fields = [
        "charger", "user", "card", "created_by", "cancelled_by", "reserve_command",
        "cancel_command", "session",
    ]  # fmt: skip
