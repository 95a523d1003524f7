"""Starting and stopping from the portal, end to end: the API, the command reaching the charger
over its websocket, the charger's Authorize/StartTransaction with the user's virtual idTag, the
session attributed to the user; and sessions stopped on revocation where the policy says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auth_access import services, tasks
from auth_access.choices import RemoteStartStatus, RunningSessionPolicy
from auth_access.models import AccessPolicy, AuthorizationRecord, ChargeCard, RemoteStart
from auth_access.virtual_tags import virtual_id_tag
from chargers.models import ChargeSession
from commands.models import Command
from portal.redis import get_redis
from tests.access.authorizer import SECRET, Authorizer, Reply
from tests.conftest import World, api_as
from tests.ocpp.conftest import TestCharger, eventually

pytestmark = pytest.mark.usefixtures("transactional_db")
T0 = "2026-02-01T18:00:00Z"


def start_from_portal(world: World, persona: str, charger_pk: int, connector: int = 1) -> dict:
    response = api_as(getattr(world, persona)).post(
        "/api/v1/remote-starts/",
        {"charger": charger_pk, "connector_id": connector, "wait_s": 5},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_driver_starts_and_stops_charging_from_the_portal(world: World, a1: TestCharger) -> None:
    tag = virtual_id_tag(world.dora.pk)
    body = start_from_portal(world, "dora", world.charger_a1.pk)
    assert (body["status"], body["user"], body["command"]["status"]) == (
        "accepted", world.dora.pk, "accepted",
    )  # fmt: skip
    [call] = [m for m in a1.received if m[2] == "RemoteStartTransaction"]
    assert call[3] == {"connectorId": 1, "idTag": tag}

    # The charger asks (AuthorizeRemoteTxRequests) and starts with the virtual idTag.
    assert a1.result("Authorize", {"idTag": tag}) == {"idTagInfo": {"status": "Accepted"}}
    start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": T0}
    reply = a1.result("StartTransaction", start)
    session = ChargeSession.objects.get()
    assert reply == {"transactionId": session.pk, "idTagInfo": {"status": "Accepted"}}
    assert (session.user, session.card, session.id_tag) == (world.dora, None, tag)
    remote_start = RemoteStart.objects.get()
    assert (remote_start.status, remote_start.session) == (RemoteStartStatus.STARTED, session)
    records = AuthorizationRecord.objects.order_by("id")
    assert [(r.trigger, r.source, r.status, r.user) for r in records] == [
        ("remote_start", "remote_start", "Accepted", world.dora),
        ("authorize", "remote_start", "Accepted", world.dora),
        ("start", "remote_start", "Accepted", world.dora),
    ]
    assert records[0].reason == "remote start: may charge on the whole installation"

    response = api_as(world.dora).post(
        "/api/v1/remote-starts/stop/", {"session": session.pk, "wait_s": 5}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["action"], response.json()["status"]) == (
        "RemoteStopTransaction", "accepted",
    )  # fmt: skip
    assert a1.received[-1][2:] == ["RemoteStopTransaction", {"transactionId": session.pk}]
    stop = {"transactionId": session.pk, "meterStop": 4000, "timestamp": "2026-02-01T19:00:00Z"}
    assert a1.result("StopTransaction", {**stop, "idTag": tag, "reason": "Remote"}) == {
        "idTagInfo": {"status": "Accepted"}
    }


def test_a_virtual_idtag_alone_starts_nothing(world: World, a1: TestCharger) -> None:
    tag = virtual_id_tag(world.dora.pk)
    assert a1.result("Authorize", {"idTag": tag}) == {"idTagInfo": {"status": "Invalid"}}
    start_from_portal(world, "dora", world.charger_a1.pk)
    RemoteStart.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert a1.result("Authorize", {"idTag": tag}) == {"idTagInfo": {"status": "Invalid"}}
    assert AuthorizationRecord.objects.latest("id").reason == (
        "virtual idTag without a remote start here"
    )
    # ... nor on another charger than the one it was requested for
    start_from_portal(world, "dora", world.charger_a1.pk)
    a2_tag_reply = a1.result("Authorize", {"idTag": virtual_id_tag(world.dave.pk)})
    assert a2_tag_reply == {"idTagInfo": {"status": "Invalid"}}


def test_who_may_start_and_stop(world: World, a1: TestCharger) -> None:
    # dave may charge on A1 only: A2 is not his to see
    response = api_as(world.dave).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a2.pk}, format="json"
    )
    assert response.status_code == 400 and "charger" in response.json()["error"]["fields"]
    start_from_portal(world, "dave", world.charger_a1.pk)
    tag = virtual_id_tag(world.dave.pk)
    tx = a1.result(
        "StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": T0}
    )["transactionId"]
    busy = api_as(world.dora).post(
        "/api/v1/remote-starts/", {"charger": world.charger_a1.pk}, format="json"
    )
    assert busy.status_code == 400
    assert busy.json()["error"]["fields"] == {
        "connector_id": ["Connector 1 of A1 is already charging."]
    }
    # dora cannot see dave's session; the owner may stop it
    refused = api_as(world.dora).post("/api/v1/remote-starts/stop/", {"session": tx})
    assert refused.status_code == 400
    assert (
        api_as(world.alice).post("/api/v1/remote-starts/stop/", {"session": tx}).status_code == 201
    )


def test_an_offline_charger_fails_at_once(world: World, a1: TestCharger) -> None:
    body = start_from_portal(world, "dora", world.charger_a2.pk)
    assert (body["status"], body["reason"]) == ("failed", "Charger is offline.")


@pytest.mark.usefixtures("local_authorizers")
def test_the_external_authorizer_decides_remote_starts_too(world: World, a1: TestCharger) -> None:
    authorizer = Authorizer().start()
    try:
        AccessPolicy.objects.filter(installation=world.site_a).update(
            external_enabled=True, external_url=authorizer.url, external_secret=SECRET
        )
        authorizer.decide = lambda payload: Reply({"status": "Blocked"})
        response = api_as(world.dora).post(
            "/api/v1/remote-starts/", {"charger": world.charger_a1.pk}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            "You may not charge on A1: external authorizer: Blocked."
        )
        [payload] = authorizer.accepted
        assert (payload["type"], payload["user"]["email"], payload["card"]) == (
            "remote_start", "dora@example.com", None,
        )  # fmt: skip
        assert RemoteStart.objects.get().status == RemoteStartStatus.REFUSED
        assert not any(m[2] == "RemoteStartTransaction" for m in a1.received)
        record = AuthorizationRecord.objects.get()
        assert (record.trigger, record.source, record.status) == (
            "remote_start", "external", "Blocked",
        )  # fmt: skip
        # accepted: the charger's own Authorize with the tag is not asked again
        authorizer.decide = lambda payload: Reply({"status": "Accepted"})
        start_from_portal(world, "dora", world.charger_a1.pk)
        tag = virtual_id_tag(world.dora.pk)
        assert a1.result("Authorize", {"idTag": tag}) == {"idTagInfo": {"status": "Accepted"}}
        assert len(authorizer.accepted) == 2
    finally:
        authorizer.stop()


class TestRunningSessionsOnRevocation:
    def _dave_charging(self, world: World, a1: TestCharger) -> int:
        ChargeCard.objects.create(user=world.dave, id_tag="DAVE-1")
        start = {"connectorId": 1, "idTag": "DAVE-1", "meterStart": 0, "timestamp": T0}
        return int(a1.result("StartTransaction", start)["transactionId"])

    def test_stop_now(self, world: World, a1: TestCharger) -> None:
        AccessPolicy.objects.filter(installation=world.site_a).update(
            running_session_policy=RunningSessionPolicy.STOP
        )
        tx = self._dave_charging(world, a1)
        assert tasks.enforce_access(world.site_a.pk) == 0  # still allowed
        permission = world.site_a.memberships.get(user=world.dave).charger_permissions.get()
        services.revoke_charger(world.alice, permission)
        key = tasks.ENFORCE_QUEUED_KEY.format(installation_id=world.site_a.pk)
        assert get_redis().exists(key)  # queued after the commit
        assert tasks.enforce_access(world.site_a.pk) == 1
        eventually(lambda: any(m[2] == "RemoteStopTransaction" for m in a1.received))
        assert a1.received[-1][3] == {"transactionId": tx}
        assert tasks.enforce_access(world.site_a.pk) == 0  # a stop is already on its way
        record = AuthorizationRecord.objects.latest("id")
        assert (record.trigger, record.status, record.reason) == (
            "revocation", "Invalid", "not permitted on this charger",
        )  # fmt: skip

    def test_let_run(self, world: World, a1: TestCharger) -> None:
        self._dave_charging(world, a1)
        world.site_a.memberships.get(user=world.dave).charger_permissions.all().delete()
        assert not get_redis().exists(
            tasks.ENFORCE_QUEUED_KEY.format(installation_id=world.site_a.pk)
        )
        assert tasks.enforce_access(world.site_a.pk) == 0
        assert not Command.objects.filter(action="RemoteStopTransaction").exists()
        # ... and the revocation applies at the next authorization
        assert a1.result("Authorize", {"idTag": "DAVE-1"}) == {"idTagInfo": {"status": "Invalid"}}
