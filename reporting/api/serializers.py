"""Serializers of the reporting API: price periods, usage rows and totals, a session's energy,
export jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from installations.models import Installation
from portal.api.fields import TenantPrimaryKeyRelatedField
from reporting import services
from reporting.models import ExportJob, PricePeriod, validate_currency
from reporting.queries import SummaryRow, Totals, Usage
from reporting.signed import signed_format


class PricePeriodSerializer(serializers.ModelSerializer):
    installation = TenantPrimaryKeyRelatedField(queryset=Installation.objects.all())
    currency = serializers.CharField(max_length=3, help_text="ISO 4217, e.g. EUR or NOK.")
    effective_from = serializers.DateTimeField(
        required=False, help_text="When the price starts (default: now); never in the past."
    )

    class Meta:
        model = PricePeriod
        fields = ["id", "installation", "price_per_kwh", "currency", "effective_from", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []  # the service answers for a time already taken

    def validate_currency(self, value: str) -> str:
        currency = value.strip().upper()
        try:
            validate_currency(currency)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return currency

    def create(self, validated_data: dict[str, Any]) -> PricePeriod:
        request = self.context.get("request")
        return services.schedule_price(
            validated_data["installation"],
            price_per_kwh=validated_data["price_per_kwh"],
            currency=validated_data["currency"],
            effective_from=validated_data.get("effective_from"),
            user=request.user if request else None,
        )


class UsageSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    energy_wh = serializers.IntegerField()
    connected_seconds = serializers.IntegerField(source="connected_s")
    charging_seconds = serializers.IntegerField(source="charging_s")
    idle_seconds = serializers.IntegerField(source="idle_s")
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()


class UsageRowSerializer(serializers.Serializer):
    installation = serializers.IntegerField(source="installation_id")
    installation_name = serializers.CharField()
    key = serializers.SerializerMethodField(
        help_text="User, card or charger id (null: none), the first day of the day, week or month, "
        "or the installation id."
    )
    label = serializers.CharField()
    usage = UsageSerializer()

    def get_key(self, row: SummaryRow) -> str | int | None:
        key = row.key
        return key.isoformat() if hasattr(key, "isoformat") else key


class CostSerializer(serializers.Serializer):
    currency = serializers.CharField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)


class TotalsSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    energy_wh = serializers.IntegerField()
    connected_seconds = serializers.IntegerField()
    charging_seconds = serializers.IntegerField()
    idle_seconds = serializers.IntegerField()
    cost = CostSerializer(many=True)

    def to_representation(self, totals: Totals) -> dict[str, Any]:
        usage: Usage = totals.all
        return {
            "sessions": usage.sessions,
            "energy_wh": usage.energy_wh,
            "connected_seconds": usage.connected_s,
            "charging_seconds": usage.charging_s,
            "idle_seconds": usage.idle_s,
            "cost": [
                {"currency": currency, "cost": f"{cost:.2f}"}
                for currency, cost in totals.cost_by_currency
            ],
        }


class UsageReportSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    results = UsageRowSerializer(many=True)
    totals = TotalsSerializer()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: these fields are declared here.
        self.fields["from"] = serializers.DateTimeField(help_text="Inclusive.")
        self.fields["to"] = serializers.DateTimeField(help_text="Exclusive.")


class HourSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    energy_wh = serializers.IntegerField()


class EnergyPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    energy_wh = serializers.FloatField(help_text="Delivered since the start.")


class PowerPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    power_w = serializers.FloatField()


class SessionEnergySerializer(serializers.Serializer):
    """A session's hourly energy (UTC hours) and its energy and power curves."""

    session = serializers.IntegerField()
    energy_wh = serializers.IntegerField()
    estimated = serializers.BooleanField(
        help_text="No energy readings during the session: spread evenly between start and stop."
    )
    power_measured = serializers.BooleanField(
        help_text="Power from Power.Active.Import samples; false: averaged between energy readings."
    )
    hours = HourSerializer(many=True)
    energy = EnergyPointSerializer(many=True)
    power = PowerPointSerializer(many=True)

    def to_representation(self, detail: Any) -> dict[str, Any]:
        hour = timedelta(hours=1)
        return super().to_representation(
            {
                "session": detail.session.pk,
                "energy_wh": detail.session.energy_wh,
                "estimated": detail.curve.estimated,
                "power_measured": detail.power_measured,
                "hours": [
                    {"start": start, "end": start + hour, "energy_wh": wh}
                    for start, wh in detail.hours
                ],
                "energy": [{"at": t, "energy_wh": round(e, 3)} for t, e in detail.curve.points],
                "power": [{"at": t, "power_w": round(w, 3)} for t, w in detail.power],
            }
        )


class EnergyRowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    energy_wh = serializers.IntegerField()
    estimated_wh = serializers.IntegerField(
        help_text="Of which from sessions without energy readings (spread evenly)."
    )
    estimated = serializers.BooleanField()
    sessions = serializers.IntegerField(help_text="Sessions that delivered energy in it.")


class EnergyReportSerializer(serializers.Serializer):
    interval = serializers.CharField()
    time_zone = serializers.CharField(help_text="Of the hours (UTC) or days (the installation's).")
    energy_wh = serializers.IntegerField()
    estimated_wh = serializers.IntegerField()
    results = EnergyRowSerializer(many=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateTimeField(help_text="Inclusive.")
        self.fields["to"] = serializers.DateTimeField(help_text="Exclusive.")


class SignedValueSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    context = serializers.CharField(
        help_text="Transaction.Begin, Transaction.End, Sample.Periodic..."
    )
    measurand = serializers.CharField()
    format = serializers.SerializerMethodField(help_text="OCMF when recognised, else empty.")
    signed_data = serializers.CharField(help_text="Verbatim, as the charger sent it.")

    def get_format(self, value: Any) -> str:
        return signed_format(value.signed_data)[0]


class ExportJobSerializer(serializers.ModelSerializer):
    """A large export: its progress, and the download URL once the file is ready."""

    url = serializers.SerializerMethodField(help_text="This job (poll it for progress).")
    percent = serializers.IntegerField(read_only=True)
    download_url = serializers.SerializerMethodField(
        help_text="The file, when status is done (until expires_at); else null."
    )

    class Meta:
        model = ExportJob
        fields = [
            "id", "url", "source", "format", "title", "status", "rows_done", "rows_total",
            "percent", "error", "created_at", "finished_at", "expires_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, job: ExportJob) -> str:
        return self._absolute(reverse("report-export-job-detail", args=[job.pk]))

    def get_download_url(self, job: ExportJob) -> str | None:
        from reporting.job_views import is_downloadable

        if not is_downloadable(job):
            return None
        return self._absolute(reverse("report-export-job-download", args=[job.pk]))
