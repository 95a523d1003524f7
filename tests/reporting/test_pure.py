"""The pure parts of reporting, without a database: periods in a time zone, the SVG chart."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporting.charts import bar_chart, line_chart, nice_ceiling
from reporting.periods import DateRange, Period, days_of, period_instants

OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        (Period.TODAY, date(2026, 3, 4), date(2026, 3, 4)),
        (Period.THIS_WEEK, date(2026, 3, 2), date(2026, 3, 8)),
        (Period.LAST_WEEK, date(2026, 2, 23), date(2026, 3, 1)),
        (Period.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 31)),
        (Period.LAST_MONTH, date(2026, 2, 1), date(2026, 2, 28)),
        (Period.THIS_YEAR, date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_named_periods_from_a_wednesday(period: Period, first: date, last: date) -> None:
    assert days_of(period, date(2026, 3, 4)) == DateRange(first, last)


def test_last_month_in_january_is_december() -> None:
    assert days_of(Period.LAST_MONTH, date(2026, 1, 15)) == DateRange(
        date(2025, 12, 1), date(2025, 12, 31)
    )


def test_a_day_when_the_clocks_change_is_23_or_25_hours_long() -> None:
    spring = DateRange(date(2026, 3, 29), date(2026, 3, 29)).instants(OSLO)
    autumn = DateRange(date(2026, 10, 25), date(2026, 10, 25)).instants(OSLO)
    utc = ZoneInfo("UTC")  # (aware times in one zone subtract as wall-clock times)
    assert spring[1].astimezone(utc) - spring[0].astimezone(utc) == timedelta(hours=23)
    assert autumn[1].astimezone(utc) - autumn[0].astimezone(utc) == timedelta(hours=25)


def test_today_is_the_local_day() -> None:
    # 23:30 UTC on 9 January is 10 January in Oslo.
    start, end = period_instants(
        Period.TODAY, datetime(2026, 1, 9, 23, 30, tzinfo=ZoneInfo("UTC")), OSLO
    )
    assert start == datetime(2026, 1, 10, tzinfo=OSLO) and end == datetime(2026, 1, 11, tzinfo=OSLO)


def test_a_custom_range_needs_both_days_in_order() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        days_of(Period.CUSTOM, date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 1))
    with pytest.raises(ValueError, match="first and a last"):
        days_of(Period.CUSTOM, date(2026, 3, 4))


def test_axis_maximum_is_a_round_number() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 3, 7.5, 12, 180, 4300)] == [
        1,
        1,
        5,
        10,
        20,
        200,
        5000,
    ]


def test_the_chart_escapes_labels_and_scales_bars() -> None:
    svg = bar_chart(
        [("<b>1 Mar</b>", 5.0), ("2 Mar", 10.0), ("3 Mar", 0.0)], "kWh", "Energy & more"
    )
    assert svg.startswith('<svg class="bar-chart" viewBox="0 0 720 260"')
    assert "<b>" not in svg and "&lt;b&gt;1 Mar&lt;/b&gt;" in svg and "Energy &amp; more" in svg
    heights = [float(part.split('"')[0]) for part in svg.split('height="')[1:]]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == 0


def test_line_chart_labels_times_in_the_zone_and_escapes() -> None:
    utc = ZoneInfo("UTC")
    start = datetime(2026, 3, 2, 9, 30, tzinfo=utc)
    points = [(start + timedelta(minutes=15 * i), float(i)) for i in range(9)]
    svg = line_chart(points, "kW", "Power <of> car", OSLO, area=True)
    assert svg.startswith('<svg class="line-chart"') and svg.endswith("</svg>")
    assert "Power &lt;of&gt; car" in svg and "<of>" not in svg
    assert ">10:30<" in svg and ">12:30<" in svg  # Oslo time, first and last
    assert "<polygon" in svg and svg.count("<polyline") == 1
    assert "<polyline" not in line_chart(points[:1], "kW", "One point", OSLO)
