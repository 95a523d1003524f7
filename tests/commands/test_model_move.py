"""The Command model moved from ocpp_bridge to the commands app without touching a row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Unapplies commands 0001 and what depends on it (auth_access 0007, ocpp_bridge 0003).
BEFORE = [("commands", None)]
# The state just before the move, as far as this test needs it.
BEFORE_STATE = [
    ("ocpp_bridge", "0002_command_status_refused"),
    ("auth_access", "0006_chargecard_installation"),
    ("contenttypes", "0002_remove_content_type_name"),
]


def _migrate(targets, state):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(state).apps


@pytest.mark.django_db(transaction=True)
def test_moving_the_model_keeps_commands_their_links_and_content_type(world) -> None:  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE, BEFORE_STATE)
        old_command = old.get_model("ocpp_bridge", "Command")
        remote_start = old.get_model("auth_access", "RemoteStart")
        content_type = old.get_model("contenttypes", "ContentType")
        content_type.objects.get_or_create(app_label="ocpp_bridge", model="command")
        sent = old_command.objects.create(
            charger_id=world.charger_a1.pk,
            action="Reset",
            payload={"type": "Soft"},
            status="accepted",
        )
        started = remote_start.objects.create(
            user_id=world.dora.pk,
            charger_id=world.charger_a1.pk,
            connector_id=1,
            id_tag="APP-1",
            command_id=sent.pk,
            expires_at=sent.created_at,
        )
    finally:
        new = _migrate(leaves, leaves)

    from django.contrib.contenttypes.models import ContentType

    from auth_access.models import RemoteStart
    from commands.models import Command

    moved = Command.objects.get(pk=sent.pk)
    assert (moved.action, moved.payload, moved.status) == ("Reset", {"type": "Soft"}, "accepted")
    assert RemoteStart.objects.get(pk=started.pk).command == moved
    assert Command._meta.db_table == "ocpp_bridge_command"
    assert ContentType.objects.filter(app_label="commands", model="command").exists()
    assert not ContentType.objects.filter(app_label="ocpp_bridge", model="command").exists()
    assert new.get_model("commands", "Command")._meta.db_table == "ocpp_bridge_command"
