from django.apps import AppConfig


class AuthAccessConfig(AppConfig):
    name = "auth_access"
    verbose_name = "Access control"
