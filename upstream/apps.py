from django.apps import AppConfig


class UpstreamConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "upstream"
    verbose_name = "Upstream central systems"
