from django.contrib import admin

from commands.models import Command


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
