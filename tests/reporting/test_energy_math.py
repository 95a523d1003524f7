"""Hourly energy without a database (``reporting.energy``): interpolation across gaps, register
resets, the hours of days when clocks change, sessions across midnight, and the property that
the hours of a session add up to its energy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.energy import (
    Interval,
    SessionMeter,
    bucket_starts,
    cumulative,
    power_from_curve,
    power_from_samples,
    split,
    thin,
)

OSLO = ZoneInfo("Europe/Oslo")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hourly(meter: SessionMeter, zone: ZoneInfo = UTC) -> dict[datetime, int]:  # type: ignore[assignment]
    return split(cumulative(meter), bucket_starts(meter.start, meter.end, zone, Interval.HOUR))


def test_steady_charging_fills_each_hour_by_its_share() -> None:
    # 10:30 to 13:00 at 4 kW, samples every 15 minutes: 2 kWh, 4, 4.
    start = utc(2026, 3, 2, 10, 30)
    registers = [(start + timedelta(minutes=15 * i), 1000 + 1000.0 * i) for i in range(1, 10)]
    meter = SessionMeter(start, utc(2026, 3, 2, 13), 1000, 11000, 10000, registers)
    assert hourly(meter) == {
        utc(2026, 3, 2, 10): 2000,
        utc(2026, 3, 2, 11): 4000,
        utc(2026, 3, 2, 12): 4000,
    }
    assert cumulative(meter).estimated is False


def test_a_gap_between_samples_is_interpolated_linearly() -> None:
    # Samples at 10:00 and 10:30, then nothing until 13:30: the 6 kWh between are spread evenly.
    start = utc(2026, 3, 2, 10)
    registers = [(utc(2026, 3, 2, 10, 30), 2000.0), (utc(2026, 3, 2, 13, 30), 8000.0)]
    meter = SessionMeter(start, utc(2026, 3, 2, 14), 0, 8000, 8000, registers)
    assert hourly(meter) == {
        utc(2026, 3, 2, 10): 3000,  # 2 kWh sampled + 1 kWh of the gap
        utc(2026, 3, 2, 11): 2000,
        utc(2026, 3, 2, 12): 2000,
        utc(2026, 3, 2, 13): 1000,  # the last half hour of the gap; nothing after 13:30
    }


def test_a_register_that_goes_down_adds_nothing_and_counting_resumes() -> None:
    # 0 -> 3000 by 11:00, reset to 0 at 11:30, then up to 1000 by 12:00. The session's energy
    # (what history and cost use) is 4000 Wh; the hours follow the increases: 3000 and 1000.
    start = utc(2026, 3, 2, 10)
    registers = [(utc(2026, 3, 2, 11), 3000.0), (utc(2026, 3, 2, 11, 30), 0.0)]
    meter = SessionMeter(start, utc(2026, 3, 2, 12), 0, 1000, 4000, registers)
    assert hourly(meter) == {utc(2026, 3, 2, 10): 3000, utc(2026, 3, 2, 11): 1000}


def test_readings_disagreeing_with_the_session_energy_are_scaled_to_it() -> None:
    # The samples rise 2000 Wh but the session says 1000 Wh: the shape is kept, the total is 1000.
    start = utc(2026, 3, 2, 10)
    registers = [(utc(2026, 3, 2, 11), 1500.0)]
    meter = SessionMeter(start, utc(2026, 3, 2, 12), 0, 2000, 1000, registers)
    assert hourly(meter) == {utc(2026, 3, 2, 10): 750, utc(2026, 3, 2, 11): 250}


def test_a_session_without_samples_is_spread_evenly_and_marked() -> None:
    meter = SessionMeter(utc(2026, 3, 2, 10), utc(2026, 3, 2, 13), 500, 3500, 3000)
    curve = cumulative(meter)
    assert curve.estimated is True
    assert hourly(meter) == {utc(2026, 3, 2, h): 1000 for h in (10, 11, 12)}


def test_samples_outside_the_session_are_ignored() -> None:
    start = utc(2026, 3, 2, 10)
    registers = [(utc(2026, 3, 2, 9), 99_999.0), (utc(2026, 3, 2, 12), 99_999.0)]
    meter = SessionMeter(start, utc(2026, 3, 2, 11), 0, 1000, 1000, registers)
    assert hourly(meter) == {utc(2026, 3, 2, 10): 1000}
    assert cumulative(meter).estimated is True  # none of its samples count


def test_a_running_session_ends_at_its_last_sample() -> None:
    start = utc(2026, 3, 2, 10)
    registers = [(utc(2026, 3, 2, 10, 30), 1000.0), (utc(2026, 3, 2, 11, 30), 3000.0)]
    meter = SessionMeter(start, utc(2026, 3, 2, 12), 0, None, 3000, registers)
    assert hourly(meter) == {utc(2026, 3, 2, 10): 2000, utc(2026, 3, 2, 11): 1000}


def test_a_session_across_midnight_is_split_at_the_local_midnight() -> None:
    # 22:00 to 02:00 Oslo time (UTC+1 in March) at an even 1 kWh per hour.
    start = datetime(2026, 3, 2, 22, tzinfo=OSLO).astimezone(UTC)
    meter = SessionMeter(start, start + timedelta(hours=4), 0, 4000, 4000)
    days = split(cumulative(meter), bucket_starts(meter.start, meter.end, OSLO, Interval.DAY))
    assert days == {
        datetime(2026, 3, 2, tzinfo=OSLO): 2000,
        datetime(2026, 3, 3, tzinfo=OSLO): 2000,
    }


def test_the_spring_day_has_23_hours_and_the_autumn_day_25() -> None:
    # (in UTC: aware times of one zone add as wall-clock times)
    spring = datetime(2026, 3, 29, tzinfo=OSLO).astimezone(UTC)
    autumn = datetime(2026, 10, 25, tzinfo=OSLO).astimezone(UTC)
    assert len(bucket_starts(spring, spring + timedelta(hours=23), OSLO, Interval.HOUR)) == 23
    hours = bucket_starts(autumn, autumn + timedelta(hours=25), OSLO, Interval.HOUR)
    assert len(hours) == 25
    # 02:00 happens twice: two buckets, an hour apart in UTC.
    twos = [h for h in hours if h.astimezone(OSLO).hour == 2]
    assert twos[1] - twos[0] == timedelta(hours=1)
    days = bucket_starts(spring, autumn, OSLO, Interval.DAY)
    assert days[0] == spring and len(days) == (date(2026, 10, 25) - date(2026, 3, 29)).days


def test_a_session_over_the_repeated_hour_fills_both() -> None:
    # 01:30 CEST to 02:30 CET on 25 October: two real hours, three local hour buckets.
    start = datetime(2026, 10, 25, 1, 30, tzinfo=OSLO).astimezone(UTC)
    meter = SessionMeter(start, start + timedelta(hours=2), 0, 2000, 2000)
    got = hourly(meter, OSLO)
    assert list(got.values()) == [500, 1000, 500]
    assert [h.astimezone(OSLO).strftime("%H:%M%z") for h in got] == [
        "01:00+0200",
        "02:00+0200",
        "02:00+0100",
    ]


def test_hours_of_a_half_hour_zone_start_at_half_past_utc() -> None:
    start = utc(2026, 3, 2, 10)  # 15:30 in Kolkata
    meter = SessionMeter(start, start + timedelta(hours=1), 0, 1000, 1000)
    assert hourly(meter, KOLKATA) == {utc(2026, 3, 2, 9, 30): 500, utc(2026, 3, 2, 10, 30): 500}


def test_power_is_the_total_or_the_sum_of_phases_in_kilowatts_or_watts() -> None:
    t0, t1 = utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 1)
    samples = [
        (t0, "L1", 1000.0, "W"),
        (t0, "L2", 1.0, "kW"),
        (t1, "L1", 1000.0, "W"),
        (t1, "", 7.2, "kW"),
    ]
    assert power_from_samples(samples) == [(t0, 2000.0), (t1, 7200.0)]


def test_power_from_the_energy_curve_is_the_average_of_each_step() -> None:
    meter = SessionMeter(utc(2026, 3, 2, 10), utc(2026, 3, 2, 10, 30), 0, 2000, 2000)
    assert power_from_curve(cumulative(meter)) == [
        (utc(2026, 3, 2, 10), 4000.0),
        (utc(2026, 3, 2, 10, 30), 4000.0),
    ]


def test_thin_keeps_the_first_and_last_points() -> None:
    points = [(utc(2026, 3, 2) + timedelta(minutes=i), float(i)) for i in range(1000)]
    thinned = thin(points, 100)
    assert len(thinned) == 100 and thinned[0] == points[0] and thinned[-1] == points[-1]


# ---------- the property ----------

ZONES = [OSLO, ZoneInfo("America/New_York"), KOLKATA, ZoneInfo("Australia/Lord_Howe"), UTC]
# Around the clock changes of 2026 (Oslo: 29 March, 25 October; New York: 8 March, 1 November;
# Lord Howe: 5 April, 4 October, half an hour each).
ANCHORS = [
    utc(2026, 3, 8, 5),
    utc(2026, 3, 29, 0),
    utc(2026, 4, 4, 14),
    utc(2026, 10, 3, 15),
    utc(2026, 10, 25, 0),
    utc(2026, 11, 1, 5),
    utc(2026, 12, 31, 22),
]


@st.composite
def sessions(draw: st.DrawFn) -> SessionMeter:
    start = draw(st.sampled_from(ANCHORS)) + timedelta(
        seconds=draw(st.integers(-36 * 3600, 36 * 3600))
    )
    seconds = draw(st.integers(0, 3 * 24 * 3600))
    end = start + timedelta(seconds=seconds)
    meter_start = draw(st.integers(0, 10**9))
    offsets = draw(st.lists(st.integers(0, max(seconds, 0)), max_size=40))
    # Registers mostly rising, sometimes reset or garbled downwards.
    values = draw(
        st.lists(
            st.floats(-5000, 50_000, allow_nan=False), min_size=len(offsets), max_size=len(offsets)
        )
    )
    registers = []
    level = float(meter_start)
    for offset, step in zip(sorted(offsets), values, strict=True):
        level = max(0.0, level + step)
        registers.append((start + timedelta(seconds=offset), level))
    running = draw(st.booleans())
    energy = draw(st.integers(0, 500_000))
    return SessionMeter(
        start,
        end,
        meter_start,
        None if running else meter_start + energy,
        energy,
        registers,
    )


@settings(max_examples=300, deadline=None)
@given(meter=sessions(), zone=st.sampled_from(ZONES), interval=st.sampled_from(list(Interval)))
def test_the_buckets_of_a_session_add_up_to_its_energy(
    meter: SessionMeter, zone: ZoneInfo, interval: Interval
) -> None:
    starts = bucket_starts(meter.start, meter.end, zone, interval)
    buckets = split(cumulative(meter), starts)
    assert abs(sum(buckets.values()) - meter.energy_wh) <= 1
    assert all(wh >= 0 for wh in buckets.values())
    assert set(buckets) <= set(starts)
    # Each bucket begins where the zone's clock shows a whole hour (or midnight).
    for bucket in buckets:
        local = bucket.astimezone(zone)
        assert local.minute == 0 or _skipped(bucket, zone)
        if interval == Interval.DAY:
            assert local.hour == 0 or _skipped(bucket, zone)


def _skipped(moment: datetime, zone: ZoneInfo) -> bool:
    """The wall-clock time just before ``moment`` is 30 minutes or an hour off: a clock change."""
    before = (moment - timedelta(seconds=1)).astimezone(zone).utcoffset()
    return before != moment.astimezone(zone).utcoffset()


def test_readings_that_rise_by_next_to_nothing_spread_the_energy_evenly() -> None:
    """Found by the property test above: a register rising by 2e-309 Wh scaled 1 Wh to infinity
    (OverflowError). So tiny a rise is no evidence: the energy is spread like a session with no
    readings, and the buckets still add up."""
    at = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    meter = SessionMeter(
        start=at,
        end=at + timedelta(hours=2),
        meter_start_wh=0,
        meter_stop_wh=None,
        energy_wh=1000,
        registers=[(at, 0.0), (at + timedelta(hours=1), 2.225073858507203e-309)],
    )
    curve = cumulative(meter)
    assert curve.estimated
    buckets = split(
        curve, bucket_starts(curve.start, curve.end, ZoneInfo("Europe/Oslo"), Interval.HOUR)
    )
    assert sum(buckets.values()) == 1000 and len(buckets) == 2
