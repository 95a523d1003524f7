from django.contrib import admin

from ocpp_bridge.models import Command, ConnectionAttempt


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "charger",
        "action",
        "status",
        "source",
        "requested_by",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "action", "source"]
    list_select_related = ["charger", "requested_by"]
    search_fields = ["charger__name", "charger__ocpp_identity"]
    raw_id_fields = ["charger", "requested_by"]


@admin.register(ConnectionAttempt)
class ConnectionAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "identity",
        "reason",
        "remote_address",
        "attempts",
        "first_seen_at",
        "last_seen_at",
    ]
    list_filter = ["reason"]
    search_fields = ["identity"]
