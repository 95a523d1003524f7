"""``?format=`` that names no renderer is a 400 naming the parameter, not DRF's bare 404 (which
told a client asking ``/api/v1/sessions/?format=csv`` that the sessions did not exist). The
endpoints whose ``format`` is a file format of their own keep answering files."""

from __future__ import annotations

import pytest

from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/sessions/?format=csv",
        "/api/v1/installations/?format=xlsx",
        "/api/v1/reports/usage/?group_by=user&format=csv",
    ],
)
def test_an_unknown_format_is_a_400_naming_the_parameter(world: World, url: str) -> None:
    answer = api_as(world.alice).get(url)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert "format" in error["fields"]
    message = error["fields"]["format"][0]
    assert "json" in message and "/api/v1/reports/export/" in message


def test_known_formats_still_work(world: World) -> None:
    client = api_as(world.alice)
    assert client.get("/api/v1/sessions/?format=json").status_code == 200
    answer = client.get(
        f"/api/v1/reports/export/?kind=sessions&format=csv&installation={world.site_a.pk}"
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")


def test_the_bad_format_of_an_export_names_the_parameter(world: World) -> None:
    answer = api_as(world.alice).get("/api/v1/reports/export/?kind=sessions&format=pdf")
    assert answer.status_code == 400
    assert "format" in answer.json()["error"]["fields"]
