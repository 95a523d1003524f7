from django.apps import AppConfig


class AuthAccessConfig(AppConfig):
    name = "auth_access"
    verbose_name = "Access control"

    def ready(self) -> None:
        from auth_access import signals  # noqa: F401  (connects the receivers)
