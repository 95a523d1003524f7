from django.contrib import admin

from ocpp_bridge.models import ConnectionAttempt


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
