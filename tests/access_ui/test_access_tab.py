"""The Access tab of an installation: who may see it, seen cards assigned in one step, the
rules, the external authorizer and the log (who may charge where and members' cards:
test_people.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from auth_access import services
from auth_access.choices import AuthorizationStatus, DecisionSource, RunningSessionPolicy
from auth_access.models import AccessPolicy, ChargeCard, SeenCard
from chargers.models import Charger
from installations.models import Installation
from tests.access_ui.conftest import (
    decision,
    field_html,
    html_of,
    see_card,
    url,
)
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]
SECTIONS = ["people", "seen_cards", "rules", "external", "log"]


# ---------- Who reaches the tab ----------


@pytest.mark.parametrize("persona", ["alice", "ingrid"])
@pytest.mark.parametrize("section", SECTIONS)
def test_owners_and_installers_reach_every_section(
    world: World, client_as: ClientAs, persona: str, section: str
) -> None:
    response = client_as(getattr(world, persona)).get(url(section, world))
    assert response.status_code == 200
    html = html_of(response)
    assert f'href="{url("people", world)}" class="active" aria-current="page"' in html  # the tab
    assert f'href="{url(section, world)}" class="active" aria-current="page"' in html


@pytest.mark.parametrize("persona", ["dora", "dave", "oscar"])
@pytest.mark.parametrize("section", SECTIONS)
def test_drivers_and_outsiders_get_404(
    world: World, client_as: ClientAs, persona: str, section: str
) -> None:
    assert client_as(getattr(world, persona)).get(url(section, world)).status_code == 404


def test_the_tab_shows_only_for_those_who_administer(world: World, client_as: ClientAs) -> None:
    overview = reverse("installations:detail", args=[world.site_a.pk])
    assert url("people", world) in html_of(client_as(world.ingrid).get(overview))
    assert url("people", world) not in html_of(client_as(world.dora).get(overview))


def test_another_tenants_tab_is_404_for_an_owner(world: World, client_as: ClientAs) -> None:
    other = reverse("access:people", args=[world.site_b.pk])
    assert client_as(world.alice).get(other).status_code == 404
    assert client_as(world.oscar).get(other).status_code == 200


# ---------- Seen cards ----------


def test_seen_cards_show_when_where_and_how_often(world: World, client_as: ClientAs) -> None:
    earlier = timezone.now() - timedelta(days=2)
    see_card(world.charger_a1, "CAFE01", times=3, at=earlier)
    see_card(world.charger_a2, "cafe01", times=2)
    see_card(world.charger_a2, "BEEF02")
    see_card(world.charger_b1, "OTHER9")  # another tenant's charger
    html = html_of(client_as(world.ingrid).get(url("seen_cards", world)))
    cafe = html.split('data-seen="CAFE01"', 1)[1].split("</li>", 1)[0]
    assert "5\u00d7" in cafe and "Last at <strong>A2</strong>" in cafe
    assert "Shown at A2 (2\u00d7), A1 (3\u00d7)." in cafe
    assert html.index('data-seen="BEEF02"') < html.index('data-seen="CAFE01"')  # newest first
    assert "OTHER9" not in html
    assert '<span class="count">2</span>' in html  # the section's count: two unknown cards


def test_seen_cards_come_fifty_cards_a_page_and_can_be_searched(
    world: World, client_as: ClientAs
) -> None:
    start = timezone.now() - timedelta(hours=1)
    for n in range(55):  # card 54 is the latest; card 0 is also shown at A2, long ago
        see_card(world.charger_a1, f"TAG{n:03d}", at=start + timedelta(seconds=n))
    see_card(world.charger_a2, "TAG000", at=start - timedelta(days=1))
    client = client_as(world.alice)
    first = html_of(client.get(url("seen_cards", world)))
    assert first.count("data-seen=") == 50
    assert 'data-seen="TAG054"' in first and 'data-seen="TAG004"' not in first
    assert "Page 1 of 2" in first and 'rel="next" href="?page=2"' in first
    second = html_of(client.get(url("seen_cards", world) + "?page=2"))
    assert [f"TAG{n:03d}" for n in (4, 3, 2, 1, 0)] == re.findall(r'data-seen="(\w+)"', second)
    assert "Shown at A1 (1\u00d7), A2 (1\u00d7)." in second  # a card's sightings stay together
    found = html_of(client.get(url("seen_cards", world) + "?q=tag05"))
    assert re.findall(r'data-seen="(\w+)"', found) == [f"TAG05{n}" for n in range(4, -1, -1)]
    nothing = html_of(client.get(url("seen_cards", world) + "?q=nope"))
    assert "No seen card matches" in nothing
    assert client.get(url("seen_cards", world) + "?q=%00").status_code == 200
    assert client.get(url("people", world) + "?q=a%00").status_code == 200
    assert client.get(reverse("installations:list") + "?q=%00").status_code == 200


def test_the_seen_card_forms_come_back_to_the_page_they_were_sent_from(
    world: World, client_as: ClientAs
) -> None:
    start = timezone.now() - timedelta(hours=1)
    for n in range(55):
        see_card(world.charger_a1, f"TAG{n:03d}", at=start + timedelta(seconds=n))
    client = client_as(world.alice)
    second = html_of(client.get(url("seen_cards", world) + "?page=2"))
    seen = SeenCard.objects.get(id_tag="TAG002")
    assign = url("seen_card_assign", world, seen.pk)
    assert f'action="{assign}?page=2"' in second
    # Without a member chosen: the error is shown on page 2, with the card it belongs to.
    response = client.post(f"{assign}?page=2", {})
    group = html_of(response).split('data-seen="TAG002"', 1)[1]
    assert "This field is required." in field_html(group, f"id_s{seen.pk}-user")
    assert "Page 2 of 2" in html_of(response)
    # That page's links lead to the list (GET on the form's URL), with their page and search.
    answer = client.get(f"{assign}?page=1&q=tag")
    assert answer.status_code == 302
    assert answer["Location"] == url("seen_cards", world) + "?page=1&q=tag"
    dismissed = client.post(f"{url('seen_card_dismiss', world, seen.pk)}?page=2")
    assert dismissed["Location"] == url("seen_cards", world) + "?page=2"


def test_an_owner_assigns_a_seen_card_in_one_step(world: World, client_as: ClientAs) -> None:
    see_card(world.charger_a1, "CAFE01", times=3)
    see_card(world.charger_a2, "CAFE01")
    seen = SeenCard.objects.filter(id_tag="CAFE01").order_by("-last_seen_at", "-id").first()
    client = client_as(world.alice)
    data = {f"s{seen.pk}-user": world.dave.pk, f"s{seen.pk}-name": "Dave's fob"}
    response = client.post(url("seen_card_assign", world, seen.pk), data)
    assert response.status_code == 302 and response["Location"] == url("seen_cards", world)
    card = ChargeCard.objects.get(id_tag="CAFE01")
    assert (card.user, card.name, card.created_by) == (world.dave, "Dave's fob", world.alice)
    assert not SeenCard.objects.filter(id_tag="CAFE01").exists()
    html = html_of(client.get(url("seen_cards", world)))
    assert "Card CAFE01 now belongs to Dave Driver." in html and "No unknown cards" in html


def test_assigning_without_a_member_shows_the_error_on_the_field(
    world: World, client_as: ClientAs
) -> None:
    see_card(world.charger_a1, "CAFE01")
    seen = SeenCard.objects.get()
    response = client_as(world.alice).post(url("seen_card_assign", world, seen.pk), {})
    assert response.status_code == 200
    html = html_of(response)
    group = html.split('data-seen="CAFE01"', 1)[1]
    assert "This field is required." in field_html(group, f"id_s{seen.pk}-user")
    assert not ChargeCard.objects.exists()


def test_only_members_of_the_installation_are_offered(world: World, client_as: ClientAs) -> None:
    see_card(world.charger_a1, "CAFE01")
    seen = SeenCard.objects.get()
    html = html_of(client_as(world.alice).get(url("seen_cards", world)))
    assert "dave@example.com" in html and "oscar@example.com" not in html
    data = {f"s{seen.pk}-user": world.oscar.pk}
    response = client_as(world.alice).post(url("seen_card_assign", world, seen.pk), data)
    assert "Select a valid choice." in html_of(response)
    assert SeenCard.objects.exists()


def test_a_driver_cannot_assign_a_seen_card_to_themselves(
    world: World, client_as: ClientAs
) -> None:
    see_card(world.charger_a1, "CAFE01")
    seen = SeenCard.objects.get()
    data = {f"s{seen.pk}-user": world.dora.pk}
    response = client_as(world.dora).post(url("seen_card_assign", world, seen.pk), data)
    assert response.status_code == 404
    assert not ChargeCard.objects.exists()


def test_dismiss_removes_the_card_from_this_installations_list(
    world: World, client_as: ClientAs
) -> None:
    see_card(world.charger_a1, "CAFE01")
    see_card(world.charger_a2, "CAFE01")
    see_card(world.charger_b1, "CAFE01")
    seen = SeenCard.objects.filter(charger=world.charger_a1).get()
    response = client_as(world.alice).post(url("seen_card_dismiss", world, seen.pk))
    assert response.status_code == 302
    assert list(SeenCard.objects.values_list("charger__name", flat=True)) == ["B1"]


def test_seen_cards_of_another_tenant_are_404(world: World, client_as: ClientAs) -> None:
    see_card(world.charger_b1, "OTHER9")
    seen = SeenCard.objects.get()
    data = {f"s{seen.pk}-user": world.dave.pk}
    assert (
        client_as(world.alice).post(url("seen_card_assign", world, seen.pk), data).status_code
        == 404
    )
    other = reverse("access:seen_card_assign", args=[world.site_b.pk, seen.pk])
    assert client_as(world.alice).post(other, data).status_code == 404
    assert SeenCard.objects.exists()


# ---------- Rules ----------


def test_rules_set_the_modes_and_the_running_session_policy(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    html = html_of(client.get(url("rules", world)))
    assert 'name="authorization_mode" value="locked"' in html
    assert f'name="charger_{world.charger_a1.pk}"' in html
    assert f'name="charger_{world.charger_b1.pk}"' not in html
    data = {
        "authorization_mode": "locked",
        f"charger_{world.charger_a1.pk}": "open",
        f"charger_{world.charger_a2.pk}": "inherit",
        "running_session_policy": RunningSessionPolicy.STOP,
    }
    response = client.post(url("rules", world), data)
    assert response.status_code == 302
    assert Charger.objects.get(pk=world.charger_a1.pk).authorization_mode == "open"
    assert AccessPolicy.objects.get(installation=world.site_a).running_session_policy == "stop"
    data["authorization_mode"] = "open"
    client.post(url("rules", world), data)
    assert Installation.objects.get(pk=world.site_a.pk).authorization_mode == "open"


def test_an_unknown_mode_is_refused_on_its_field(world: World, client_as: ClientAs) -> None:
    data = {"authorization_mode": "ajar", "running_session_policy": "let_run"}
    response = client_as(world.alice).post(url("rules", world), data)
    assert response.status_code == 200
    assert "Select a valid choice. ajar is not one of the available choices." in html_of(response)
    assert Installation.objects.get(pk=world.site_a.pk).authorization_mode == "locked"


# ---------- External authorizer ----------

SECRET = "s3cret-of-twenty-chars"


def external_data(**changes: object) -> dict:
    data = {
        "external_enabled": "on",
        "external_url": "https://auth.example.com/fusebox",
        "external_secret": SECRET,
        "external_deadline_ms": 1500,
        "external_fallback": "refuse",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_external_authorizer_is_explained_and_set(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    html = html_of(client.get(url("external", world)))
    assert "In plain words" in html and "HMAC-SHA256" in html and "No secret yet" in html
    response = client.post(url("external", world), external_data())
    assert response.status_code == 302
    policy = AccessPolicy.objects.get(installation=world.site_a)
    assert policy.uses_external and policy.external_secret == SECRET
    assert (policy.external_deadline_ms, policy.external_fallback) == (1500, "refuse")
    html = html_of(client.get(url("external", world)))
    assert "locked chargers here ask it from now on" in html and "Secret set" in html
    assert SECRET not in html  # write-only


def test_an_empty_secret_keeps_the_stored_one_and_a_new_one_replaces_it(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    client.post(url("external", world), external_data())
    client.post(url("external", world), external_data(external_secret="", external_deadline_ms=900))
    policy = AccessPolicy.objects.get(installation=world.site_a)
    assert (policy.external_secret, policy.external_deadline_ms) == (SECRET, 900)
    client.post(url("external", world), external_data(external_secret="another-secret-0123"))
    assert AccessPolicy.objects.get(installation=world.site_a).external_secret == (
        "another-secret-0123"
    )
    client.post(url("external", world), external_data(external_enabled=None, remove_secret="on"))
    policy = AccessPolicy.objects.get(installation=world.site_a)
    assert policy.external_secret == "" and not policy.uses_external


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"external_url": "http://auth.example.com/"}, "external_url", "must be an https:// URL"),
        (
            {"external_url": "https://localhost:8443/"},
            "external_url",
            "localhost resolves to 127.0.0.1, a loopback address",
        ),
        ({"external_url": "https://auth.example.com:25/"}, "external_url", "Port 25 is reserved"),
        ({"external_secret": "short"}, "external_secret", "Use at least 16 characters."),
        ({"external_url": ""}, "external_url", "Required to enable the external authorizer."),
        ({"external_deadline_ms": 50}, "external_deadline_ms", "greater than or equal to 100"),
    ],
)
def test_the_models_refusals_show_on_their_fields(
    world: World, client_as: ClientAs, changes: dict, field: str, message: str
) -> None:
    response = client_as(world.alice).post(url("external", world), external_data(**changes))
    assert response.status_code == 200
    html = html_of(response)
    assert message in field_html(html, f"id_{field}")
    assert not AccessPolicy.objects.get(installation=world.site_a).uses_external


def test_a_wrong_secret_is_not_echoed_back(world: World, client_as: ClientAs) -> None:
    response = client_as(world.alice).post(
        url("external", world), external_data(external_url="http://x/", external_secret="tiny-1")
    )
    assert "tiny-1" not in html_of(response)


# ---------- The authorization log ----------


def test_the_log_shows_decisions_newest_first(world: World, client_as: ClientAs) -> None:
    card = services.add_card(world.dora, world.dora, "DORA-1", name="Blue fob")
    now = timezone.now()
    decision(world.charger_a1, "DORA-1", user=world.dora, at=now - timedelta(minutes=5))
    decision(world.charger_a2, "CAFE01", AuthorizationStatus.INVALID, reason="unknown card",
             at=now - timedelta(minutes=1), source=DecisionSource.FALLBACK)  # fmt: skip
    decision(world.charger_b1, "OTHER9")  # another tenant's
    record = decision(world.charger_a1, "DORA-1", user=world.dora, at=now)
    record.card = card
    record.save()
    html = html_of(client_as(world.alice).get(url("log", world)))
    rows = html.split('data-testid="authorization-log"', 1)[1].split("data-record=")[1:]
    assert len(rows) == 3
    assert "Blue fob" in rows[0] and "Dora Driver" in rows[0] and ">Accepted<" in rows[0]
    assert "CAFE01" in rows[1] and ">Invalid<" in rows[1] and "unknown card" in rows[1]
    assert "Fallback policy" in rows[1] and "1.2 ms" in rows[1] and "A2" in rows[1]
    assert "OTHER9" not in html


def test_the_log_filters_by_charger_result_and_time(world: World, client_as: ClientAs) -> None:
    now = timezone.now()
    decision(world.charger_a1, "ONE", at=now)
    decision(world.charger_a2, "TWO", AuthorizationStatus.BLOCKED, at=now)
    decision(world.charger_a2, "OLD", AuthorizationStatus.BLOCKED, at=now - timedelta(days=10))
    client = client_as(world.ingrid)

    def tags(**params: object) -> list[str]:
        html = html_of(client.get(url("log", world), params))
        rows = html.split("data-record=")[1:]
        return [tag for tag in ("ONE", "TWO", "OLD") for row in rows if f">{tag}<" in row]

    assert tags() == ["ONE", "TWO", "OLD"]
    assert tags(charger=world.charger_a2.pk) == ["TWO", "OLD"]
    assert tags(result="Blocked") == ["TWO", "OLD"]
    today = timezone.localdate(now, timezone=ZoneInfo("Europe/Oslo"))
    assert tags(result="Blocked", since=(today - timedelta(days=1)).isoformat()) == ["TWO"]
    assert tags(until=(today - timedelta(days=5)).isoformat()) == ["OLD"]


def test_the_log_refuses_an_end_before_its_start(world: World, client_as: ClientAs) -> None:
    response = client_as(world.alice).get(
        url("log", world), {"since": "2030-02-02", "until": "2030-02-01"}
    )
    assert "The end is before the start." in html_of(response)


def test_the_log_pages_continue_after_the_last_row(world: World, client_as: ClientAs) -> None:
    now = timezone.now()
    for n in range(55):
        decision(world.charger_a1, f"T{n:02d}", at=now - timedelta(seconds=n))
    client = client_as(world.alice)
    html = html_of(client.get(url("log", world), {"charger": world.charger_a1.pk}))
    assert html.count("data-record=") == 50 and ">T00<" in html and ">T49<" in html
    older = html.split('href="?', 1)[1].split('"', 1)[0]
    assert f"charger={world.charger_a1.pk}" in older and "before=" in older
    html = html_of(client.get(url("log", world) + "?" + older.replace("&amp;", "&")))
    assert html.count("data-record=") == 5 and ">T50<" in html and ">T54<" in html
    assert ">Newest<" in html and ">Older<" not in html
