"""The audit log (issue #13): who changed what, when, from where, whichever way in (web page,
API token, admin), secrets only as changed, nothing from the bridge or workers; owners and
installers of the installation read it (page, CSV, API), nobody else."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from chargers.models import Charger
from installations.models import Circuit, Membership
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def _web(user: object) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_a_change_on_a_web_page_records_who_what_and_from_where(world: World) -> None:
    answer = _web(world.alice).post(
        reverse("installations:circuit_edit", args=[world.row_a.pk]),
        {"name": "Row A (east)", "parent": world.main_a.pk, "max_current_a": 25},
    )
    assert answer.status_code == 302, answer.content.decode()[:500]
    entry = AuditEntry.objects.get(object_type="Circuit", action="changed")
    assert (entry.actor, entry.via, entry.address) == (world.alice, "web", "203.0.113.7")
    assert entry.installation == world.site_a
    assert entry.changes == {"name": ["Row A", "Row A (east)"], "max_current_a": [32.0, 25.0]}


def test_api_changes_name_the_token_and_secrets_show_only_as_changed(world: World) -> None:
    client = api_as(world.ingrid)
    assert (
        client.patch(
            f"/api/v1/installations/{world.site_a.pk}/", {"name": "Harbour P1"}, format="json"
        ).status_code
        == 200
    )
    rotated = client.post(f"/api/v1/chargers/{world.charger_a1.pk}/ocpp-password/")
    assert rotated.status_code in (200, 201), rotated.content
    renamed = AuditEntry.objects.get(object_type="Installation", action="changed")
    assert renamed.via == "api (tests)" and renamed.changes == {
        "name": ["Harbour car park", "Harbour P1"]
    }
    password = AuditEntry.objects.get(object_type="Charger", action="changed")
    assert password.changes == {"ocpp_password_hash": ["(secret changed)", "(secret changed)"]}
    password_hash = Charger.objects.get(pk=world.charger_a1.pk).ocpp_password_hash
    assert password_hash not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_what_the_system_does_is_not_in_the_log(world: World) -> None:
    """The bridge and the workers change chargers all the time: not people, not logged."""
    charger = Charger.objects.get(pk=world.charger_a1.pk)
    charger.name = "Renamed by a script"
    charger.save()
    Circuit.objects.create(
        installation=world.site_a, parent=world.main_a, name="X", max_current_a=10
    )
    assert not AuditEntry.objects.exists()


def test_members_cards_and_commands_are_logged_with_cards_masked(world: World) -> None:
    client = api_as(world.alice)
    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    assert client.delete(f"/api/v1/members/{dave.pk}/").status_code == 204
    sent = client.post(
        f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
        {
            "action": "ChangeConfiguration",
            "payload": {"key": "AuthorizationKey", "value": "00112233445566778899"},
        },
        format="json",
    )
    assert sent.status_code in (200, 201, 202), sent.content
    kinds = set(AuditEntry.objects.values_list("object_type", "action"))
    assert ("Membership", "deleted") in kinds and ("Command", "created") in kinds
    command = AuditEntry.objects.get(object_type="Command")
    assert "00112233445566778899" not in str(command.changes)


def test_only_owners_and_installers_of_the_installation_read_it(world: World) -> None:
    api_as(world.alice).patch(
        f"/api/v1/installations/{world.site_a.pk}/", {"name": "Harbour P1"}, format="json"
    )
    url = reverse("audit:log", args=[world.site_a.pk])
    for insider in (world.alice, world.ingrid):
        page = _web(insider).get(url)
        assert page.status_code == 200 and "Harbour P1" in page.content.decode()
        listed = api_as(insider).get("/api/v1/audit-log/", {"installation": world.site_a.pk})
        assert len(listed.json()["results"]) == 1
    for outsider in (world.oscar, world.dora, world.dave):
        assert _web(outsider).get(url).status_code == 404
        assert api_as(outsider).get("/api/v1/audit-log/").json()["results"] == []
    assert api_as(world.alice).post("/api/v1/audit-log/", {}).status_code == 405


def test_the_csv_neutralises_formulas_and_filters_apply(world: World) -> None:
    client = api_as(world.alice)
    client.patch(
        f"/api/v1/installations/{world.site_a.pk}/", {"name": "=HYPERLINK(1)"}, format="json"
    )
    client.patch(f"/api/v1/circuits/{world.row_a.pk}/", {"max_current_a": 20}, format="json")
    web = _web(world.alice)
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(
                    web.get(reverse("audit:export", args=[world.site_a.pk])).streaming_content
                ).decode()
            )
        )
    )
    assert rows[0][:3] == ["time (UTC)", "who", "via"]
    assert len(rows) == 3
    assert all(not cell.startswith("=") for row in rows for cell in row)
    only_circuits = web.get(
        reverse("audit:log", args=[world.site_a.pk]), {"object_type": "Circuit"}
    )
    html = only_circuits.content.decode()
    assert html.count("data-entry=") == 1 and "Row A" in html


def test_api_tokens_are_logged_for_their_owner_only(world: World) -> None:
    web = _web(world.alice)
    web.post("/accounts/api-tokens/", {"name": "Billing export"})
    entry = AuditEntry.objects.get(object_type="Api token")
    assert entry.installation is None and entry.actor == world.alice
    assert "key_hash" not in entry.changes or entry.changes["key_hash"][1] == "(secret changed)"
    mine = api_as(world.alice).get("/api/v1/audit-log/").json()["results"]
    assert [e["object_type"] for e in mine] == ["Api token"]
    assert api_as(world.ingrid).get("/api/v1/audit-log/").json()["results"] == []


def test_changes_by_people_are_events_too_without_their_values(world: World) -> None:
    """The outbox hears of settings and permission changes (webhooks, alerts and the live stream
    can react), with the names of the fields, never their values (the audit log has those)."""
    from events.models import Event

    client = api_as(world.alice)
    client.patch(f"/api/v1/circuits/{world.row_a.pk}/", {"max_current_a": 20}, format="json")
    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    assert client.delete(f"/api/v1/members/{dave.pk}/").status_code == 204
    settings_event = Event.objects.get(type="settings.changed")
    assert settings_event.installation == world.site_a
    assert settings_event.payload == {
        "object_type": "circuit",
        "object_id": world.row_a.pk,
        "action": "changed",
        "fields": ["max_current_a"],
        "actor_id": world.alice.pk,
        "via": "api",
    }
    told = {
        (e.payload["object_type"], e.payload["action"])
        for e in Event.objects.filter(type="permissions.changed")
    }
    # Dave's membership, and his permission on A1 that went with it.
    assert told == {("membership", "deleted"), ("chargerpermission", "deleted")}
    # What the system changes is no event of this kind, and a driver never sees these.
    Circuit.objects.filter(pk=world.row_a.pk).update(max_current_a=16)
    assert Event.objects.filter(type="settings.changed").count() == 1
    assert not Event.objects.restrict(world.dora, "view").filter(type="settings.changed").exists()


def test_deleting_an_installation_deletes_its_events_and_writes_none_for_its_parts(
    world: World,
) -> None:
    from events.models import Event

    site = world.site_c
    Circuit.objects.create(installation=site, parent=site.main_fuse, name="Spare", max_current_a=10)
    carol = Membership.objects.get(installation=site, role="owner").user
    answer = api_as(carol).delete(f"/api/v1/installations/{site.pk}/")
    assert answer.status_code == 204, answer.content
    assert not Event.objects.filter(installation_id=site.pk).exists()
    deleted = AuditEntry.objects.get(object_type="Installation", action="deleted")
    assert deleted.installation_id is None and deleted.actor == carol


def test_urls_are_logged_by_their_origin_not_their_secret_path(world: World, monkeypatch) -> None:
    """A chat service's webhook URL is its own credential: the log keeps its scheme and host and
    a digest that tells one URL from another, never the path."""
    from auth_access import egress

    monkeypatch.setattr(egress, "lookup", lambda host, port: ["93.184.216.34"])
    client = api_as(world.alice)
    secret_url = "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX"
    made = client.post(
        "/api/v1/webhooks/",
        {"installation": world.site_a.pk, "url": secret_url},
        format="json",
    )
    assert made.status_code == 201, made.content
    client.patch(
        f"/api/v1/webhooks/{made.json()['id']}/",
        {"url": secret_url.replace("XXXX", "YYYY")},
        format="json",
    )
    logged = str(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert "SECRET" not in logged and "services" not in logged
    changed = AuditEntry.objects.get(object_type="Endpoint", action="changed").changes["url"]
    assert changed[0].startswith("https://hooks.example.com/… #") and changed[0] != changed[1]
