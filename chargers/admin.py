from django.contrib import admin

from chargers.models import Charger, ChargerEvent, ChargeSession, Connector, MeterValue
from chargers.models.session import SignedMeterValue


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


@admin.register(ChargeSession)
class ChargeSessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "charger",
        "connector",
        "id_tag",
        "user",
        "status",
        "started_at",
        "stopped_at",
        "energy_wh",
    ]
    list_filter = ["status", "stop_reason"]
    list_select_related = ["charger", "connector", "user"]
    search_fields = ["id_tag", "charger__name", "charger__ocpp_identity", "user__email"]
    date_hierarchy = "started_at"
    raw_id_fields = ["charger", "connector", "user", "card"]


@admin.register(MeterValue)
class MeterValueAdmin(admin.ModelAdmin):
    list_display = [
        "charger",
        "connector_id",
        "timestamp",
        "measurand",
        "phase",
        "value",
        "unit",
        "context",
    ]
    list_filter = ["measurand", "context"]
    search_fields = ["charger__ocpp_identity"]
    raw_id_fields = ["charger"]
    show_full_result_count = False  # the table is large: no COUNT(*) on every page


@admin.register(ChargerEvent)
class ChargerEventAdmin(admin.ModelAdmin):
    list_display = ["charger", "connector_id", "kind", "timestamp", "summary"]
    list_filter = ["kind"]
    search_fields = ["charger__name", "charger__ocpp_identity", "summary"]
    raw_id_fields = ["charger"]


@admin.register(SignedMeterValue)
class SignedMeterValueAdmin(admin.ModelAdmin):
    """Signed meter values as the chargers sent them: read only (they are evidence)."""

    list_display = ["charger", "session", "context", "timestamp"]
    list_select_related = ["charger"]
    list_filter = ["context"]
    search_fields = ["charger__name", "charger__ocpp_identity", "transaction_id"]
    raw_id_fields = ["charger", "session"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
