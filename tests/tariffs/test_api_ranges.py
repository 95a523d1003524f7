"""A range of prices or slots asked with an impossible or far-off date answers 400 naming the
parameter, never 500 (review of 2026-12-04: Django's parsers raise on 02-30 or 25:00, and years
at the ends of the calendar overflowed)."""

from __future__ import annotations

import pytest

from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-12-05T25:00:00+01:00"}, "from"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "9999-12-31"}, "from"),
        ({"from": "2026-12-05T10:00:00+01:00", "to": "9999-12-31"}, "to"),
        ({"from": "2026-12-05", "to": "2026-13-01"}, "to"),
    ],
)
@pytest.mark.parametrize("path", ["price-slots", "day-ahead-prices"])
def test_an_impossible_date_answers_400_naming_it(
    world: World, path: str, query: dict[str, str], field: str
) -> None:
    client = api_as(world.alice)
    client.raise_request_exception = False
    answer = client.get(f"/api/v1/installations/{world.site_a.pk}/{path}/", query)
    assert answer.status_code == 400, answer.content[:300]
    assert field in answer.content.decode()
