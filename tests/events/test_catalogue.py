"""The catalogue: docs/events.md and events/catalogue.py say the same; emit writes in the
caller's transaction and refuses what the catalogue does not know."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction

from events import emit
from events.catalogue import CATALOGUE, CATALOGUE_VERSION, UnknownEventType
from events.choices import EventType, Severity
from events.models import Event
from events.serializers import event_json
from tests.conftest import World

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _documented() -> dict[str, tuple[str, int, tuple[str, ...]]]:
    rows = re.findall(
        r"^\| `([a-z_.]+)` \| (\w+) \| (\d+) \|([a-z_, ]*)\|", DOC.read_text(), re.MULTILINE
    )
    return {
        name: (severity, int(version), tuple(f.strip() for f in fields.split(",") if f.strip()))
        for name, severity, version, fields in rows
    }


def test_the_doc_and_the_code_list_the_same_types_severities_versions_and_fields() -> None:
    in_code = {
        name: (str(spec.severity), spec.version, spec.fields) for name, spec in CATALOGUE.items()
    }
    assert _documented() == in_code
    assert set(in_code) == set(EventType.values)


def test_the_doc_names_the_catalogue_version() -> None:
    assert f"Catalogue version **{CATALOGUE_VERSION}**" in DOC.read_text()


def test_emit_writes_with_the_catalogue_severity_and_version(world: World) -> None:
    event = emit(
        EventType.CONNECTOR_FAULTED,
        charger_id=world.charger_a1.pk,
        connector_id=1,
        payload={"status": "Faulted", "error_code": "GroundFailure"},
    )
    assert event is not None
    stored = Event.objects.get(pk=event.pk)
    assert stored.installation_id == world.site_a.pk  # from the charger
    assert stored.severity == Severity.CRITICAL and stored.version == 1
    assert stored.xid > 0 and stored.recorded_at is not None
    body = event_json(stored)
    assert body["type"] == "connector.faulted" and body["connector"] == 1
    assert body["data"]["error_code"] == "GroundFailure"
    assert body["timestamp"].endswith("Z")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_event(world: World) -> None:
    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a1.pk, payload={"vendor": "X"})
        assert Event.objects.count() == 1
        raise Undo
    assert Event.objects.count() == 0
    with transaction.atomic():
        emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a1.pk)
    assert Event.objects.count() == 1


def test_an_unknown_type_or_payload_field_is_refused(world: World) -> None:
    with pytest.raises(UnknownEventType, match="Unknown event type"):
        emit("charger.exploded", charger_id=world.charger_a1.pk)
    with pytest.raises(UnknownEventType, match="undeclared payload fields"):
        emit(EventType.CHARGER_BOOTED, charger_id=world.charger_a1.pk, payload={"colour": 1})
    assert not Event.objects.exists()


def test_an_event_of_a_charger_that_is_gone_is_dropped(world: World) -> None:
    assert emit(EventType.CHARGER_CONNECTED, charger_id=10**9) is None
    assert not Event.objects.exists()
