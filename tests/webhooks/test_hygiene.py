"""Where webhooks sit: above events, installations and accounts, using only the SSRF guard and
its pinned connections from access control; nothing but the URL maps imports them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {
    "accounts", "installations", "chargers", "auth_access", "commands", "ocpp_bridge",
    "balancing", "reporting", "events", "webhooks", "portal",
}  # fmt: skip
ALLOWED = {"accounts", "installations", "events", "portal", "webhooks"}
ALLOWED_ACCESS = {"auth_access.egress", "auth_access.external"}  # the guard, pinned connections


def imports_of(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def ours(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts]


def test_webhooks_import_only_what_they_may() -> None:
    wrong = {}
    for source in ours("webhooks"):
        for name in imports_of(source):
            top = name.split(".")[0]
            access = any(name == a or name.startswith(f"{a}.") for a in ALLOWED_ACCESS)
            if top in PROJECT and top not in ALLOWED and not access:
                wrong.setdefault(str(source.relative_to(ROOT)), []).append(name)
    assert wrong == {}


def test_nothing_but_the_url_maps_imports_webhooks() -> None:
    importers = {
        str(source.relative_to(ROOT))
        for package in PROJECT - {"webhooks"}
        for source in ours(package)
        if any(name.split(".")[0] == "webhooks" for name in imports_of(source))
    }
    assert importers <= {"portal/urls.py", "portal/api/urls.py"}
