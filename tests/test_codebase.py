"""The codebase's own hygiene, checked by the suite: lint, format, migrations, API schema."""

from __future__ import annotations

import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"
OUR_APPS = {
    "accounts",
    "installations",
    "chargers",
    "auth_access",
    "commands",
    "ocpp_bridge",
    "balancing",
    "reporting",
    "events",
    "audit",
    "webhooks",
    "alerts",
    "upstream",
    "tariffs",
}


def test_ruff_lint_is_clean() -> None:
    result = subprocess.run(
        [RUFF, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [RUFF, "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_openapi_schema_generates_without_warnings(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stderr=out,
    )
    schema = (tmp_path / "schema.yaml").read_text()
    for path in [
        "/api/v1/installations/",
        "/api/v1/chargers/",
        "/api/v1/auth/token/",
        "/api/v1/invitations/",
    ]:
        assert f"  {path}:" in schema


def _imported_packages(package: str) -> dict[str, set[str]]:
    """Every top-level package each module of ``package`` imports (also inside functions and
    ``TYPE_CHECKING`` blocks), by module path; migrations left out (they are history)."""
    import ast

    found: dict[str, set[str]] = {}
    for source in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in source.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
        found[str(source.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # Access decides and reaches chargers only through the command path.
        ("auth_access", {"ocpp_bridge"}),
        # The command path is below both the bridge and access.
        ("commands", {"ocpp_bridge", "auth_access", "balancing", "reporting"}),
        # Reporting reads; nothing in the core depends on it.
        ("chargers", {"reporting", "balancing"}),
        # Events sit below everything that emits them: the bridge, access, commands.
        ("events", {"ocpp_bridge", "auth_access", "commands", "balancing", "reporting"}),
        # The upstream app is configuration and records; the bridge holds the connections.
        ("upstream", {"ocpp_bridge", "balancing", "reporting"}),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: set[str]) -> None:
    wrong = {
        module: sorted(names & forbidden)
        for module, names in _imported_packages(package).items()
        if names & forbidden
    }
    assert wrong == {}


def test_every_setting_read_from_the_environment_is_documented() -> None:
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', settings_source))
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert read <= documented, f"undocumented: {sorted(read - documented)}"
    # Read by portal/supervisor.py, portal/asgi.py, portal/demo.py:
    elsewhere = {"WEB_PORT", "DB_CONN_MAX_AGE_WEB", "DEMO_UPSTREAM_PORT"}
    assert documented - read <= elsewhere, (
        f"documented but not read: {sorted(documented - read - elsewhere)}"
    )


def test_every_model_of_ours_is_in_the_admin() -> None:
    from django.apps import apps
    from django.contrib import admin

    ours = OUR_APPS
    missing = [
        m.__name__
        for m in apps.get_models()
        if m._meta.app_label in ours and m._meta.managed and m not in admin.site._registry
    ]  # unmanaged models are database views over models that are in it
    assert missing == []


@pytest.mark.django_db
def test_admin_pages_render(admin_client) -> None:  # type: ignore[no-untyped-def]
    from django.apps import apps
    from django.contrib import admin

    for model in admin.site._registry:
        if model._meta.app_label in OUR_APPS:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            assert admin_client.get(url).status_code == 200, url
            assert admin_client.get(url + "add/").status_code in (200, 403), url
    assert apps.is_installed("django.contrib.admin")


def test_docker_compose_passes_only_settings_the_application_reads() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    read = set(
        re.findall(r'env_\w+\(\s*"([A-Z_]+)"', (ROOT / "portal" / "settings.py").read_text())
    )
    assert {"web", "bridge", "worker", "beat", "postgres", "redis"} <= set(compose["services"])
    for name in ["web", "bridge", "worker", "beat"]:
        service = compose["services"][name]
        assert set(service["environment"]) <= read, name
