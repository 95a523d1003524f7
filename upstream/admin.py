from django.contrib import admin

from upstream.models import (
    UpstreamCap,
    UpstreamLink,
    UpstreamMessage,
    UpstreamSettings,
    UpstreamTransaction,
)


@admin.register(UpstreamSettings)
class UpstreamSettingsAdmin(admin.ModelAdmin):
    list_display = ["id", "installation", "charger", "url", "enabled", "paused", "authorization"]
    list_filter = ["enabled", "paused", "authorization"]
    raw_id_fields = ["installation", "charger"]
    exclude = ["password"]  # sent upstream, never shown


@admin.register(UpstreamLink)
class UpstreamLinkAdmin(admin.ModelAdmin):
    list_display = ["charger", "state", "since", "reason", "node"]
    list_filter = ["state"]
    raw_id_fields = ["charger"]


@admin.register(UpstreamMessage)
class UpstreamMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "charger", "action", "created_at", "attempts", "sent_at"]
    list_filter = ["action"]
    raw_id_fields = ["charger", "session"]


@admin.register(UpstreamTransaction)
class UpstreamTransactionAdmin(admin.ModelAdmin):
    list_display = ["session", "charger", "upstream_transaction_id", "id_tag_status"]
    raw_id_fields = ["session", "charger"]


@admin.register(UpstreamCap)
class UpstreamCapAdmin(admin.ModelAdmin):
    list_display = ["charger", "connector_id", "profile_id", "purpose", "stack_level", "valid_to"]
    list_filter = ["purpose"]
    raw_id_fields = ["charger", "session"]
