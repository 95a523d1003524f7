from django.contrib import admin

from chargers.models import Charger, Connector


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0


@admin.register(Charger)
class ChargerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "ocpp_identity",
        "installation",
        "circuit",
        "phases",
        "is_online",
        "last_seen_at",
    ]
    list_filter = ["is_online", "phases", "vendor"]
    list_select_related = ["installation", "circuit"]
    search_fields = ["name", "ocpp_identity", "serial_number"]
    readonly_fields = [
        "vendor",
        "model",
        "serial_number",
        "firmware_version",
        "is_online",
        "last_seen_at",
    ]
    inlines = [ConnectorInline]


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["charger", "connector_id", "status", "error_code", "status_updated_at"]
    list_filter = ["status"]
    search_fields = ["charger__name", "charger__ocpp_identity"]
